"""torch's tensor factories: ``dtype=``, ``device=``, ``requires_grad=`` (and ``generator=``)
on each, over chainrule's factories (a device chainrule cannot use is a clear error)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.backend import asnumpy, move_like
from chainrule.device import as_device
from chainrule.tensor import Tensor
from chainrule.torch._dtypes import bool as bool_
from chainrule.torch._dtypes import (
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    to_dtype,
    uint8,
)
from chainrule.torch.random import as_rng

__all__ = [
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
    "IntTensor", "LongTensor", "ShortTensor", "arange", "as_tensor", "bernoulli", "empty",
    "empty_like", "eye", "from_numpy", "full", "full_like", "linspace", "logspace",
    "multinomial", "normal", "ones", "ones_like", "rand", "rand_like", "randint",
    "randint_like", "randn", "randn_like", "randperm", "scalar_tensor", "tensor", "zeros",
    "zeros_like",
]


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    return t.requires_grad_(True) if requires_grad else t


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], tuple | list | cr.Tensor):
        size = tuple(size[0])
    return tuple(builtins.int(s) for s in size)


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of data (lists of floats take the default float dtype)."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        data = data.copy()
    return cr.tensor(data, dtype=to_dtype(dtype), device=device, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a tensor, sharing memory with a tensor or ndarray of that dtype."""
    return cr.as_tensor(data, dtype=to_dtype(dtype), device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ndarray's memory and dtype."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    return Tensor(ndarray)


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-d tensor of the default float dtype (or dtype)."""
    return cr.tensor(s, dtype=to_dtype(dtype) or cr.get_default_dtype(), device=device,
                     requires_grad=requires_grad)


def _filled(name: str, fn: Any) -> Any:
    def factory(*size: Any, out: Any = None, dtype: Any = None, layout: Any = None,
                device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
                memory_format: Any = None, **kw: Any) -> Tensor:
        if "size" in kw:  # torch.empty(size=(2, 3))
            if size:
                raise TypeError(f"{name}: give the size positionally or as size=, not both")
            size = (kw.pop("size"),)
        if kw:
            raise TypeError(f"{name}: unexpected keyword arguments {sorted(kw)}")
        return fn(*_size(size), dtype=to_dtype(dtype), device=as_device(device, name),
                  requires_grad=requires_grad)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"torch.{name}(*size, dtype=, device=, requires_grad=)."
    return factory


zeros = _filled("zeros", cr.zeros)
ones = _filled("ones", cr.ones)
empty = _filled("empty", cr.empty)


def full(size: Any, fill_value: Any, *, out: Any = None, dtype: Any = None, layout: Any = None,
         device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """fill_value everywhere (floats take the default dtype, ints int64, bools bool)."""
    return cr.full(_size((size,)), fill_value, dtype=to_dtype(dtype),
                   device=as_device(device, "full"), requires_grad=requires_grad)


def _like(name: str, fill: Any) -> Any:
    def factory(input: Any, *, dtype: Any = None, layout: Any = None,
                device: Any = None, requires_grad: bool = False, memory_format: Any = None,
                generator: Any = None) -> Tensor:
        dev = as_device(device if device is not None else input.device, name)
        dt = to_dtype(dtype) or np.dtype(input.dtype)
        return _finish(fill(tuple(input.shape), dt, generator, dev), requires_grad)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"torch.{name}(input, dtype=, device=, requires_grad=): input's shape."
    return factory


zeros_like = _like("zeros_like", lambda s, d, g, v: cr.zeros(s, dtype=d, device=v))
ones_like = _like("ones_like", lambda s, d, g, v: cr.ones(s, dtype=d, device=v))
empty_like = _like("empty_like", lambda s, d, g, v: cr.empty(s, dtype=d, device=v))
rand_like = _like("rand_like", lambda s, d, g, v: cr.rand(s, dtype=d, rng=as_rng(g), device=v))
randn_like = _like("randn_like",
                   lambda s, d, g, v: cr.randn(s, dtype=d, rng=as_rng(g), device=v))


def full_like(input: Any, fill_value: Any, *, dtype: Any = None,
              device: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    """fill_value with input's shape and dtype (or dtype)."""
    dev = as_device(device if device is not None else input.device, "full_like")
    dt = to_dtype(dtype) or np.dtype(input.dtype)
    return cr.full(tuple(input.shape), fill_value, dtype=dt, device=dev,
                   requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, out: Any = None, dtype: Any = None,
           layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """[start, end) by step: int64 for integer arguments, the default float dtype otherwise."""
    return _finish(cr.arange(start, end, step, dtype=to_dtype(dtype),
                             device=as_device(device, "arange")), requires_grad)


def linspace(start: Any, end: Any, steps: int, *, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """steps evenly spaced values from start to end inclusive."""
    return _finish(cr.linspace(start, end, steps, dtype=to_dtype(dtype),
                               device=as_device(device, "linspace")), requires_grad)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    """base ** linspace(start, end, steps)."""
    as_device(device, "logspace")
    exps = cr.linspace(start, end, steps, dtype=np.float64)._data
    dt = to_dtype(dtype) or cr.get_default_dtype()
    return _finish(Tensor(np.power(base, exps).astype(dt)), requires_grad)


def eye(n: int, m: int | None = None, *, out: Any = None, dtype: Any = None, layout: Any = None,
        device: Any = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity."""
    return _finish(cr.eye(n, m, dtype=to_dtype(dtype), device=as_device(device, "eye")),
                   requires_grad)


# ----- random -----
def _sampled(name: str, fn: Any) -> Any:
    def factory(*size: Any, generator: Any = None, out: Any = None, dtype: Any = None,
                layout: Any = None, device: Any = None, requires_grad: bool = False,
                pin_memory: bool = False) -> Tensor:
        return fn(*_size(size), dtype=to_dtype(dtype), requires_grad=requires_grad,
                  rng=as_rng(generator), device=as_device(device, name))

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"torch.{name}(*size, generator=, dtype=, device=, requires_grad=)."
    return factory


rand = _sampled("rand", cr.rand)
randn = _sampled("randn", cr.randn)


def randint(*args: Any, size: Any = None, generator: Any = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False, low: Any = None,
            high: Any = None, **_: Any) -> Tensor:
    """torch.randint(high, size) or randint(low, high, size): integers in [low, high)."""
    dev = as_device(device, "randint")
    pos = list(args)
    if size is None and pos and isinstance(pos[-1], tuple | list):
        size = pos.pop()
    if high is None:
        high = pos.pop() if pos else None
    if low is None:
        low = pos.pop() if pos else 0
    if size is None or high is None or pos:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    return _finish(cr.randint(low, high, _size((size,)), dtype=to_dtype(dtype) or int64,
                              rng=as_rng(generator), device=dev), requires_grad)


def randint_like(input: Any, low: Any = 0, high: Any = None, *,
                 dtype: Any = None, device: Any = None, requires_grad: bool = False,
                 generator: Any = None, **_: Any) -> Tensor:
    """Integers in [low, high) (one bound: [0, low)) with input's shape and dtype."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=to_dtype(dtype) or input.dtype,
                   device=device, requires_grad=requires_grad, generator=generator)


def randperm(n: int, *, generator: Any = None, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    dev = as_device(device, "randperm")
    perm = as_rng(generator).permutation(builtins.int(n))
    return _finish(Tensor(perm.astype(to_dtype(dtype) or int64)).to(dev), requires_grad)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           out: Any = None, dtype: Any = None, device: Any = None,
           requires_grad: bool = False, **_: Any) -> Tensor:
    """Samples of N(mean, std**2): mean and std numbers (then size is required) or tensors."""
    dev = as_device(device, "normal")
    m, s = _host(mean), _host(std)
    shape = _size((size,)) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    dt = to_dtype(dtype) or next((np.dtype(a.dtype) for a in (mean, std)
                                  if isinstance(a, Tensor)), np.dtype(cr.get_default_dtype()))
    values = as_rng(generator).normal(m, s, shape).astype(dt)
    return _finish(Tensor(values).to(dev), requires_grad)


def bernoulli(input: Any, p: Any = None, *, generator: Any = None,
              out: Any = None) -> Tensor:
    """0/1 samples, 1 with probability input (or p), in input's dtype."""
    prob = _host(input if p is None else p)
    draws = as_rng(generator).random(tuple(input.shape)) < prob
    return _on_device_of(draws.astype(input.dtype), input)


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: Any = None, out: Any = None) -> Tensor:
    """Indices drawn from each row's (unnormalized) weights: shape (rows, num_samples), int64."""
    w = np.asarray(_host(input), dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {w.ndim}")
    rows = w.reshape(-1, w.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all() or (rows.sum(1) <= 0).any():
        raise RuntimeError("multinomial: invalid probability distribution (negative, inf, nan "
                           "or sum <= 0)")
    if not replacement and num_samples > (rows > 0).sum(1).min():
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    rng = as_rng(generator)
    out_rows = [rng.choice(r.size, num_samples, replace=replacement, p=r / r.sum()) for r in rows]
    res = np.stack(out_rows).astype(np.int64)
    return _on_device_of(res.reshape(num_samples) if w.ndim == 1 else res, input)


def _host(x: Any) -> np.ndarray:
    """x's values as a host ndarray (a copy of a CUDA tensor's): the draws are made there."""
    return asnumpy(x._data) if isinstance(x, Tensor) else np.asarray(x)


def _on_device_of(values: np.ndarray, ref: Any) -> Tensor:
    """values as a Tensor on ref's device (ref a Tensor; else the default device)."""
    if isinstance(ref, Tensor):
        return Tensor._make(move_like(values, ref._data), False, None)
    return Tensor(values)


# ----- legacy constructors: torch.FloatTensor(2, 3), torch.LongTensor([1, 2]) -----
class _LegacyType(type):
    """isinstance(t, torch.FloatTensor) checks the dtype, as PyTorch's legacy types do."""

    dtype: np.dtype

    def __instancecheck__(cls, obj: Any) -> builtins.bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


def _legacy(name: str, dt: np.dtype) -> type:
    def __new__(cls: Any, *args: Any, device: Any = None) -> Tensor:
        as_device(device, name)
        if len(args) == 1 and not isinstance(args[0], builtins.int | np.integer):
            return tensor(args[0], dtype=dt)
        return cr.zeros(_size(args), dtype=dt)

    doc = f"torch.{name}(*sizes) (zeros) or torch.{name}(data): a {dt} tensor."
    return _LegacyType(name, (), {"__new__": __new__, "dtype": dt, "__doc__": doc})


FloatTensor = _legacy("FloatTensor", float32)
DoubleTensor = _legacy("DoubleTensor", float64)
HalfTensor = _legacy("HalfTensor", float16)
LongTensor = _legacy("LongTensor", int64)
IntTensor = _legacy("IntTensor", int32)
ShortTensor = _legacy("ShortTensor", int16)
CharTensor = _legacy("CharTensor", int8)
ByteTensor = _legacy("ByteTensor", uint8)
BoolTensor = _legacy("BoolTensor", bool_)
