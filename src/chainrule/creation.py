"""Tensor factories and the global random generator."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrule.backend import device_index, is_device_array, to_device
from chainrule.device import CPU, as_device
from chainrule.dtypes import as_array, get_default_dtype
from chainrule.tensor import Tensor

_rng: np.random.Generator | None = None  # made on first use: numpy.random costs ~20 ms to import


_cuda_seed: list[int | None] = [None]  # applied to CuPy's generator on its first use


def manual_seed(seed: int) -> None:
    """Seed the global generator used by the random factories (and nn initializers), and CuPy's
    generator for random factories on CUDA devices (when CuPy is first used, if not yet)."""
    global _rng
    _rng = np.random.default_rng(seed)
    _cuda_seed[0] = int(seed)
    if "cupy" in sys.modules:
        device_rng()


def device_rng() -> Any:
    """CuPy's global random module, seeded by the last manual_seed."""
    from chainrule.backend import cupy_module

    random = cupy_module("random").random
    if _cuda_seed[0] is not None:
        random.seed(_cuda_seed[0])
        _cuda_seed[0] = None
    return random


def default_rng() -> np.random.Generator:
    """The global generator (seeded from the OS until manual_seed is called)."""
    global _rng
    if _rng is None:
        _rng = np.random.default_rng()
    return _rng


def get_rng_state() -> dict:
    """The global generator's state (a JSON-able dict), for checkpoints."""
    return default_rng().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state saved by get_rng_state."""
    default_rng().bit_generator.state = state


class Generator:
    """PyTorch's ``torch.Generator`` over a ``numpy.random.Generator`` (``manual_seed``, ...)."""

    def __init__(self, device: Any = "cpu") -> None:
        as_device(device, "Generator")
        self.device = CPU
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns self."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the OS; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed last set."""
        return self._seed

    def get_state(self) -> dict:
        """The generator's state (a dict)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        """Restore a state from get_state."""
        self._rng.bit_generator.state = state
        return self


def as_rng(generator: Any = None) -> np.random.Generator:
    """The numpy Generator behind generator= (a Generator, a numpy Generator, or None: global)."""
    if generator is None:
        return default_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, Generator):
        return generator._rng
    raise TypeError(f"generator: expected a chainrule Generator or a numpy Generator, "
                    f"got {type(generator).__name__}")


def _out(arr: np.ndarray, requires_grad: bool, device: Any, name: str) -> Tensor:
    arr = to_device(arr, as_device(device, name).index)  # index None: the host
    t = Tensor._make(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _on_device(device: Any, rng: Any, name: str) -> Any:
    """The CUDA device a random factory draws on with CuPy's generator, or None (host draws:
    the CPU, or an explicit numpy generator)."""
    d = as_device(device, name)
    return d if d.type == "cuda" and rng is None else None


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor (a copy); ndarrays keep their dtype, Python floats take the default."""
    if isinstance(data, Tensor):
        data = data._data.copy()
    elif isinstance(data, list | tuple) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _nested_values(data)
    elif isinstance(data, np.ndarray):
        data = data.copy()
    return _out(as_array(data, _np_dtype(dtype)), requires_grad, device, "tensor")


def _flat(data: Any) -> list:
    out = []
    for d in data:
        out.extend(_flat(d) if isinstance(d, list | tuple) else [d])
    return out


def _nested_values(data: Any) -> Any:
    if isinstance(data, list | tuple):
        return [_nested_values(d) for d in data]
    return data._data if isinstance(data, Tensor) else data


def _np_dtype(dtype: Any) -> Any:
    if dtype is None:
        return None
    from chainrule.ops.methods_convert import as_dtype

    return as_dtype(dtype)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a Tensor, sharing memory where possible."""
    as_device(device, "as_tensor")
    dt = _np_dtype(dtype)
    if isinstance(data, Tensor) and (dt is None or np.dtype(dt) == data.dtype):
        return data
    return Tensor(as_array(data._data if isinstance(data, Tensor) else data, dt))


def _shape(shape: tuple, size: Any = None) -> tuple[int, ...]:
    if size is not None:
        if shape:
            raise TypeError("factory: give the shape positionally or as size=, not both")
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _dt(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else _np_dtype(dtype)


def zeros(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, **_: Any) -> Tensor:
    """A tensor of zeros."""
    return _out(np.zeros(_shape(shape, size), _dt(dtype)), requires_grad, device, "zeros")


def ones(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, **_: Any) -> Tensor:
    """A tensor of ones."""
    return _out(np.ones(_shape(shape, size), _dt(dtype)), requires_grad, device, "ones")


def empty(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, **_: Any) -> Tensor:
    """An uninitialized tensor."""
    return _out(np.empty(_shape(shape, size), _dt(dtype)), requires_grad, device, "empty")


def _tracked(x: Any) -> bool:
    return isinstance(x, Tensor) and (x.requires_grad or x._tangents is not None)


def _full_of(fill: Tensor, shape: tuple, dt: Any, op: str) -> Tensor:
    """A recorded fill value broadcast to shape: differentiable in the fill value (as autograd's
    np.full), instead of its graph silently dropped."""
    try:
        fits = np.broadcast_shapes(fill.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: fill value of shape {fill.shape} does not broadcast to {shape}")
    return fill.astype(dt) + np.zeros(shape, dt)


def full(shape: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, **_: Any) -> Tensor:
    """A tensor filled with fill_value (ints stay int64, bools bool, floats the default)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if _tracked(fill_value):
        return _full_of(fill_value, shape, _np_dtype(dtype) if dtype else fill_value.dtype, "full")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = np.asarray(fill_value).dtype if not isinstance(fill_value, float) else None
    return _out(np.full(shape, fill_value, _dt(dtype)), requires_grad, device, "full")


def _like(x: Any, dtype: Any, device: Any) -> tuple[tuple[int, ...], Any, Any]:
    """x's shape, the dtype (x's by default) and the device (x's by default, as PyTorch)."""
    arr = x._data if isinstance(x, Tensor) else x if is_device_array(x) else np.asarray(x)
    if device is None and (isinstance(x, Tensor) or is_device_array(x)):
        device = f"cuda:{device_index(arr)}" if is_device_array(arr) else "cpu"
    return arr.shape, arr.dtype if dtype is None else _np_dtype(dtype), device


def zeros_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               **_: Any) -> Tensor:
    """Zeros with x's shape and dtype."""
    shape, dt, device = _like(x, dtype, device)
    return _out(np.zeros(shape, dt), requires_grad, device, "zeros_like")


def ones_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              **_: Any) -> Tensor:
    """Ones with x's shape and dtype."""
    shape, dt, device = _like(x, dtype, device)
    return _out(np.ones(shape, dt), requires_grad, device, "ones_like")


def empty_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               **_: Any) -> Tensor:
    """Uninitialized values with x's shape and dtype."""
    shape, dt, device = _like(x, dtype, device)
    return _out(np.empty(shape, dt), requires_grad, device, "empty_like")


def full_like(x: Any, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Tensor:
    """fill_value with x's shape and dtype."""
    shape, dt, device = _like(x, dtype, device)
    if _tracked(fill_value):
        return _full_of(fill_value, shape, dt, "full_like")
    return _out(np.full(shape, fill_value, dt), requires_grad, device, "full_like")


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False, *, end: Any = None, **_: Any) -> Tensor:
    """Evenly spaced values in [start, stop), as np.arange (floats take the default dtype)."""
    stop = end if stop is None else stop
    vals = [v._data.item() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    arr = np.arange(vals[0], vals[1], vals[2]) if stop is not None else np.arange(vals[0])
    if dtype is None and arr.dtype.kind == "f":
        dtype = get_default_dtype()
    return _out(arr if dtype is None else arr.astype(_np_dtype(dtype)), requires_grad, device,
                "arange")


def linspace(start: float, stop: float, num: int = 50, endpoint: bool = True, dtype: Any = None,
             device: Any = None, requires_grad: bool = False, *, end: Any = None,
             steps: Any = None, layout: Any = None, out: Any = None) -> Tensor:
    """num (PyTorch: steps) evenly spaced values from start to stop (stop excluded when
    endpoint=False, as NumPy)."""
    num = steps if steps is not None else num
    stop = end if end is not None else stop
    if isinstance(start, Tensor) or isinstance(stop, Tensor):  # differentiable in the ends
        from chainrule.tensor import as_operand

        a, b = as_operand(start), as_operand(stop)
        dt = _dt(dtype) if dtype is not None else (a.dtype if a.dtype.kind == "f" else
                                                   get_default_dtype())
        nd = max(a.ndim, b.ndim)  # array ends: NumPy's (num, *ends' shape), along axis 0
        frac = np.linspace(0.0, 1.0, num, endpoint=endpoint).astype(dt).reshape((num,) + (1,) * nd)
        return a.astype(dt) + (b.astype(dt) - a.astype(dt)) * frac
    return _out(np.linspace(start, stop, num, endpoint=endpoint, dtype=_dt(dtype)),
                requires_grad, device, "linspace")


def asarray(a: Any, dtype: Any = None) -> Tensor:
    """NumPy's np.asarray: a as a Tensor, the same Tensor (or memory) when no copy is needed."""
    return as_tensor(a, dtype)


def array(obj: Any, dtype: Any = None, copy: bool = True, ndmin: int = 0) -> Tensor:
    """NumPy's np.array: a new tensor; a list holding tensors that are recorded (or carry
    tangents) is stacked differentiably, as autograd's np.array."""
    from chainrule.ops.elementwise import astype
    from chainrule.tensor import as_operand

    t = as_operand(obj)
    if t is obj and copy:
        from chainrule.ops.shape import clone

        t = clone(t)
    if dtype is not None:
        t = astype(t, _np_dtype(dtype))
    while t.ndim < ndmin:
        t = t.reshape((1, *t.shape))
    return t


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False, **_: Any) -> Tensor:
    """Identity matrix."""
    return _out(np.eye(n, m, dtype=_dt(dtype)), requires_grad, device, "eye")


def identity(n: int, dtype: Any = None, *, like: Any = None) -> Tensor:
    """The n x n identity matrix, as np.identity (in the default float dtype unless given)."""
    return eye(n, dtype=dtype)


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Tensor:
    """base ** linspace(start, stop, num), as np.logspace (the default float dtype unless
    given). Differentiable in Tensor ends: the power of a (differentiable) linspace."""
    if isinstance(start, Tensor) or isinstance(stop, Tensor):
        from chainrule.ops.elementwise import power
        from chainrule.ops.shape_more import moveaxis

        exps = linspace(start, stop, num, endpoint, dtype=dtype)
        out = power(np.asarray(base, exps.dtype), exps)
        return moveaxis(out, 0, axis) if axis != 0 else out
    try:
        arr = np.logspace(start, stop, num, endpoint, base, axis=axis)
    except (ValueError, TypeError) as e:
        raise type(e)(f"logspace: {e} (start {start!r}, stop {stop!r}, num {num!r})") from None
    return _out(arr.astype(_dt(dtype), copy=False), False, None, "logspace")


def randn(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, generator: Any = None,
          rng: np.random.Generator | None = None, **_: Any) -> Tensor:
    """Standard normal samples."""
    return _sample("randn", "standard_normal", "standard_normal", _shape(shape, size), dtype,
                   device, requires_grad, rng if rng is not None else generator)


def rand(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, generator: Any = None,
         rng: np.random.Generator | None = None, **_: Any) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _sample("rand", "random", "random_sample", _shape(shape, size), dtype, device,
                   requires_grad, rng if rng is not None else generator)


def _sample(name: str, host: str, on_device: str, shape: tuple, dtype: Any, device: Any,
            requires_grad: bool, rng: Any) -> Tensor:
    """A factory's draw: the generator's method host (NumPy's), or on_device (CuPy's) from the
    device generator when the tensor goes to a CUDA device."""
    d = _on_device(device, rng, name)
    if d is not None:
        with _cuda(d):
            arr = getattr(device_rng(), on_device)(shape, dtype=_dt(dtype))
        return _out(arr, requires_grad, d, name)
    return _out(getattr(as_rng(rng), host)(shape, dtype=_dt(dtype)), requires_grad, device, name)


def randint(low: int, high: Any = None, size: Any = (), dtype: Any = np.int64,
            device: Any = None, requires_grad: bool = False, generator: Any = None,
            rng: np.random.Generator | None = None, **_: Any) -> Tensor:
    """Random integers in [low, high) (in [0, low) when high is None; torch's
    ``randint(high, size)`` too)."""
    rng = rng if rng is not None else generator
    if isinstance(high, tuple | list) and size == ():
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    d = _on_device(device, rng, "randint")
    if d is not None:
        with _cuda(d):
            arr = device_rng().randint(low, high, size, dtype=_np_dtype(dtype))
        return _out(arr, requires_grad, d, "randint")
    return _out(as_rng(rng).integers(low, high, size=size, dtype=_np_dtype(dtype)),
                requires_grad, device, "randint")


def _cuda(d: Any) -> Any:
    """CuPy's context manager making CUDA device d current."""
    from chainrule.backend import cupy_module

    return cupy_module().cuda.Device(d.index)
