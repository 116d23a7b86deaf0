"""A test double for CuPy, so chainrule's CUDA path runs (on NumPy) in CI, with no GPU.

``install()`` puts modules named ``cupy`` and ``cupyx`` into ``sys.modules``; ``uninstall()``
takes them out. It lives under tests/ and is never importable as ``cupy`` otherwise.

The double is as strict as real CuPy where a NumPy leak would matter, so a device path that
falls back to NumPy fails here as it would on a GPU:
- ``np.asarray(a)`` / ``np.array(a)`` of a device array raise TypeError (CuPy's ``__array__``);
- a ufunc or NumPy function mixing a device array with a ``numpy.ndarray`` (0-d included) raises
  TypeError (CuPy's kernels accept device arrays and scalars only);
- ufunc methods other than ``__call__``, ``reduce``, ``accumulate`` and ``outer`` (``np.add.at``)
  are not dispatched: use ``cupyx.scatter_add``;
- NumPy functions CuPy lacks (``UNSUPPORTED``) are not dispatched;
- results are device arrays, reductions and full indexing included (0-d, never NumPy scalars);
- ``tobytes``, ``ctypes`` and the buffer protocol are absent: copy to the host with ``get()`` or
  ``cupy.asnumpy``.
Data lives in a NumPy array (``_a``); each array remembers the device id it was made on.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any

import numpy as np

# NumPy functions that CuPy does not implement (dispatch would raise TypeError on a GPU).
UNSUPPORTED = frozenset({
    "apply_along_axis", "apply_over_axes", "piecewise", "vectorize", "frompyfunc", "busday_count",
    "nditer", "ndindex", "as_strided", "put_along_axis", "ediff1d", "unwrap", "real_if_close",
})
_UFUNC_METHODS = ("__call__", "reduce", "accumulate", "outer")
_NO_ATTR = frozenset({"tobytes", "tofile", "ctypes", "__array_interface__", "__array_struct__",
                      "dump", "dumps", "tostring", "__buffer__"})

_current = [0]  # the current device id (cupy.cuda.Device(i) as a context manager sets it)
DEVICE_COUNT = 2


def _unsupported_numpy(x: Any, what: str) -> TypeError:
    return TypeError(f"Unsupported type {type(x)} ({what}): a numpy.ndarray cannot take part in a "
                     "CuPy operation; copy it with cupy.asarray first")


def _unwrap(x: Any, strict: bool, what: str = "") -> Any:
    if type(x) is ndarray:
        return x._a
    if strict and isinstance(x, np.ndarray):
        raise _unsupported_numpy(x, what)
    if type(x) is tuple or type(x) is list:
        return type(x)(_unwrap(v, strict, what) for v in x)
    return x


def _wrap(x: Any, dev: int, base: ndarray | None = None) -> Any:
    if isinstance(x, np.ndarray):
        out = ndarray(x, dev)
        if base is not None and x.base is not None:
            out._base = base if base._base is None else base._base
        return out
    if isinstance(x, np.generic):
        return ndarray(np.asarray(x), dev)
    if type(x) is tuple or type(x) is list:
        return type(x)(_wrap(v, dev) for v in x)
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # np.linalg's results (EighResult...)
        return type(x)(*(_wrap(v, dev) for v in x))
    return x


def _dev_of(*args: Any) -> int:
    for a in args:
        if type(a) is ndarray:
            return a._dev
        if type(a) is tuple or type(a) is list:
            for v in a:
                if type(v) is ndarray:
                    return v._dev
    return _current[0]


def _check_same_device(args: Any) -> None:
    devs = {a._dev for a in _flat(args) if type(a) is ndarray}
    if len(devs) > 1:
        raise ValueError(f"Array device must be same as the current device: arrays on devices "
                         f"{sorted(devs)}")


def _flat(args: Any) -> list:
    out = []
    for a in args:
        if type(a) is tuple or type(a) is list:
            out.extend(_flat(a))
        else:
            out.append(a)
    return out


class ndarray:
    """A device array: a NumPy array behind CuPy's interface and CuPy's refusals."""

    __slots__ = ("__weakref__", "_a", "_base", "_dev")
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, a: np.ndarray, dev: int | None = None) -> None:
        if not isinstance(a, np.ndarray):
            raise TypeError("fake cupy.ndarray wraps a numpy.ndarray")
        self._a = a
        self._base = None
        self._dev = _current[0] if dev is None else dev

    # ----- refusals -----
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    # ----- NumPy dispatch, as CuPy's -----
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method not in _UFUNC_METHODS:
            return NotImplemented
        _check_same_device(inputs)
        args = _unwrap(inputs, True, f"numpy.{ufunc.__name__}")
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o, True, "out") for o in
                                  (out if isinstance(out, tuple) else (out,)))
        res = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out if isinstance(out, tuple) and len(out) > 1 else (
                out[0] if isinstance(out, tuple) else out)
        return _wrap(res, _dev_of(*inputs))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func.__name__ in UNSUPPORTED:
            return NotImplemented
        if any(t is not ndarray for t in types):
            return NotImplemented  # CuPy: a numpy.ndarray among the arguments
        _check_same_device(args)
        dev = _dev_of(*args)
        res = func(*_unwrap(args, True, f"numpy.{func.__name__}"),
                   **{k: _unwrap(v, True, k) for k, v in kwargs.items()})
        first = args[0] if args and type(args[0]) is ndarray else None
        return _wrap(res, dev, first)

    # ----- attributes -----
    shape = property(lambda s: s._a.shape)
    dtype = property(lambda s: s._a.dtype)
    ndim = property(lambda s: s._a.ndim)
    size = property(lambda s: s._a.size)
    itemsize = property(lambda s: s._a.itemsize)
    nbytes = property(lambda s: s._a.nbytes)
    strides = property(lambda s: s._a.strides)
    flags = property(lambda s: s._a.flags)
    base = property(lambda s: s._base)

    @property
    def device(self) -> Device:
        return Device(self._dev)

    @property
    def data(self) -> types.SimpleNamespace:
        """CuPy's MemoryPointer (``ptr``: the first element's address, ``device_id``), not
        NumPy's buffer."""
        return types.SimpleNamespace(ptr=self._a.ctypes.data, device_id=self._dev)

    def __getattr__(self, name: str) -> Any:
        if name in _NO_ATTR or name.startswith("__"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        value = getattr(self._a, name)
        if not callable(value):
            return _wrap(value, self._dev, self)

        def method(*args: Any, **kwargs: Any) -> Any:
            res = value(*_unwrap(args, False), **{k: _unwrap(v, False) for k, v in
                                                  kwargs.items()})
            if name in ("item", "tolist"):
                return res
            return _wrap(res, self._dev, self)

        return method

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        """A host copy."""
        return np.array(self._a, order=order)

    def set(self, arr: np.ndarray) -> None:
        """Copy a host array in."""
        self._a[...] = arr

    # ----- Python protocol -----
    def __repr__(self) -> str:
        return "fake_cupy." + repr(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __getitem__(self, key: Any) -> ndarray:
        return _wrap(self._a[_unwrap(key, False)], self._dev, self)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap(key, False)] = _unwrap(value, False)

    def __copy__(self) -> ndarray:
        return ndarray(self._a.copy(), self._dev)

    def __deepcopy__(self, memo: Any) -> ndarray:
        return ndarray(self._a.copy(), self._dev)


def _defers(o: Any) -> bool:
    """As CuPy's operators: an operand whose __array_ufunc__ is None (NEP 13), or of a higher
    __array_priority__ (CuPy's _should_use_rop), gets its reflected operator (a chainrule Tensor
    on the right of a device array)."""
    t = type(o)
    if t is ndarray or isinstance(o, np.ndarray | np.generic):
        return False
    return (getattr(t, "__array_ufunc__", 0) is None
            or getattr(t, "__array_priority__", 0) > ndarray.__array_priority__)


def _binary(ufunc: np.ufunc) -> Any:
    return ((lambda s, o: NotImplemented if _defers(o) else ufunc(s, o)),
            (lambda s, o: NotImplemented if _defers(o) else ufunc(o, s)),
            (lambda s, o: NotImplemented if _defers(o) else ufunc(s, o, out=(s,))))


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder),
                   ("pow", np.power), ("matmul", np.matmul), ("and", np.bitwise_and),
                   ("or", np.bitwise_or), ("xor", np.bitwise_xor), ("lshift", np.left_shift),
                   ("rshift", np.right_shift)]:
    _f, _r, _i = _binary(_uf)
    setattr(ndarray, f"__{_name}__", _f)
    setattr(ndarray, f"__r{_name}__", _r)
    setattr(ndarray, f"__i{_name}__", _i)
for _name, _uf in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(ndarray, f"__{_name}__", _binary(_uf)[0])
for _name, _uf in [("neg", np.negative), ("pos", np.positive), ("abs", np.absolute),
                   ("invert", np.invert)]:
    setattr(ndarray, f"__{_name}__", (lambda uf: lambda s: uf(s))(_uf))
ndarray.__module__ = "cupy"
ndarray.__qualname__ = ndarray.__name__ = "ndarray"


# ----- module functions -----
def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """a on the current device (a host copy for NumPy data; no copy for a device array)."""
    if type(a) is ndarray:
        if a._dev != _current[0]:
            return ndarray(np.array(a._a, dtype=dtype), _current[0])
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return ndarray(np.array(_unwrap(a, False), dtype=dtype, order=order or "K"))


def array(a: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    """A device array from a (a copy by default)."""
    return ndarray(np.array(_unwrap(a, False), dtype=dtype, copy=copy, order=order, ndmin=ndmin))


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    """a C-contiguous (device arrays only)."""
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    return _wrap(np.ascontiguousarray(a._a, dtype=dtype), a._dev, a)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    """A host copy of a device array (a itself, as an array, otherwise)."""
    if type(a) is ndarray:
        return a.get()
    return np.asarray(a)


def get_array_module(*args: Any) -> types.ModuleType:
    """cupy when an argument is a device array, else numpy."""
    return sys.modules["cupy"] if any(type(a) is ndarray for a in args) else np


class _Ufunc:
    """cupy.add and the like: device arrays and scalars in, device arrays out."""

    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout = uf.nin, uf.nout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf, args, kwargs)

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.reduce, args, kwargs)

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.accumulate, args, kwargs)

    def outer(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.outer, args, kwargs)

    def at(self, a: Any, indices: Any, b: Any = None) -> None:
        if self._uf not in (np.add, np.subtract, np.maximum, np.minimum):
            raise NotImplementedError(f"cupy.{self.__name__}.at")
        self._uf.at(_unwrap(a, True), _unwrap(indices, False),
                    *(() if b is None else (_unwrap(b, True),)))


def _call(fn: Any, args: Any, kwargs: Any) -> Any:
    _check_same_device(args)
    res = fn(*_unwrap(args, True, getattr(fn, "__name__", "")),
             **{k: _unwrap(v, True, k) for k, v in kwargs.items()})
    out = kwargs.get("out")
    if out is not None:
        return out
    first = args[0] if args and type(args[0]) is ndarray else None
    return _wrap(res, _dev_of(*args), first)


def _creation(fn: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> ndarray:
        return _wrap(fn(*_unwrap(args, True), **{k: _unwrap(v, True) for k, v in kwargs.items()}),
                     _dev_of(*args))

    make.__name__ = fn.__name__
    return make


def _module_getattr(name: str) -> Any:
    if name in UNSUPPORTED or name.startswith("__"):
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    value = getattr(np, name)
    if isinstance(value, np.ufunc):
        return _Ufunc(value)
    if isinstance(value, type) or not callable(value):
        return value  # dtypes and constants are NumPy's
    if name in ("zeros", "ones", "empty", "full", "arange", "linspace", "eye", "identity",
                "zeros_like", "ones_like", "empty_like", "full_like", "tri", "indices"):
        return _creation(value)
    return lambda *a, **k: _call(value, a, k)


# ----- cuda -----
class Device:
    """cupy.cuda.Device: an id, synchronize, and a context manager that makes it current."""

    def __init__(self, device: Any = None) -> None:
        self.id = _current[0] if device is None else int(device)
        if not 0 <= self.id < DEVICE_COUNT:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id}")
        self._prev: list[int] = []

    def synchronize(self) -> None:
        """Nothing to wait for."""

    def use(self) -> None:
        """Make this device current."""
        _current[0] = self.id

    def __enter__(self) -> Device:
        self._prev.append(_current[0])
        _current[0] = self.id
        return self

    def __exit__(self, *exc: Any) -> None:
        _current[0] = self._prev.pop()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class _Random:
    """cupy.random's legacy functions over a NumPy generator (seeded by seed)."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(12345)

    def seed(self, seed: Any = None) -> None:
        self._rng = np.random.default_rng(seed)

    def standard_normal(self, size: Any = None, dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._rng.standard_normal(size, dtype=dtype)))

    def random_sample(self, size: Any = None, dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._rng.random(size, dtype=dtype)))

    random = rand_ = random_sample

    def randint(self, low: int, high: Any = None, size: Any = None, dtype: Any = int) -> ndarray:
        if high is None:
            low, high = 0, low
        return ndarray(np.asarray(self._rng.integers(low, high, size, dtype=dtype)))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None,
                dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._rng.uniform(low, high, size)).astype(dtype))

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None,
               dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._rng.normal(loc, scale, size)).astype(dtype))

    def permutation(self, n: Any) -> ndarray:
        return ndarray(np.asarray(self._rng.permutation(n)))


def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    """cupyx.scatter_add: a[slices] += value with repeated indices accumulating."""
    if type(a) is not ndarray:
        raise TypeError(f"cupyx.scatter_add: expected a cupy.ndarray, got {type(a)}")
    np.add.at(a._a, _unwrap(slices, False), _unwrap(value, True, "scatter_add value"))


def _as_strided(x: ndarray, shape: Any = None, strides: Any = None) -> ndarray:
    """cupy.lib.stride_tricks.as_strided: a writeable strided view of a device array."""
    if type(x) is not ndarray:
        raise TypeError(f"as_strided: expected a cupy.ndarray, got {type(x)}")
    view = np.lib.stride_tricks.as_strided(x._a, shape, strides, writeable=x._a.flags.writeable)
    return _wrap(view, x._dev, x)


def _build() -> dict[str, types.ModuleType]:
    cupy = types.ModuleType("cupy", "fake CuPy (tests/fake_cupy.py)")
    cupy.__getattr__ = _module_getattr  # type: ignore[method-assign]
    for name in ("ndarray", "asarray", "array", "asnumpy", "ascontiguousarray",
                 "get_array_module"):
        setattr(cupy, name, globals()[name])
    cupy.__version__ = "13.0.0-fake"
    cupy.fake = True
    cuda = types.ModuleType("cupy.cuda")
    runtime = types.ModuleType("cupy.cuda.runtime")
    runtime.getDeviceCount = lambda: DEVICE_COUNT
    runtime.deviceSynchronize = lambda: None
    runtime.runtimeGetVersion = lambda: 13000
    cuda.runtime = runtime
    cuda.Device = Device
    cuda.is_available = lambda: True
    cupy.cuda = cuda
    rnd = _Random()
    random = types.ModuleType("cupy.random")
    for name in ("seed", "standard_normal", "random_sample", "random", "randint", "uniform",
                 "normal", "permutation"):
        setattr(random, name, getattr(rnd, name))
    random.rand = lambda *shape, dtype=float: rnd.random_sample(shape, dtype)
    random.randn = lambda *shape, dtype=float: rnd.standard_normal(shape, dtype)
    cupy.random = random
    lib = types.ModuleType("cupy.lib")
    stride_tricks = types.ModuleType("cupy.lib.stride_tricks")
    stride_tricks.as_strided = _as_strided
    lib.stride_tricks = stride_tricks
    cupy.lib = lib
    cupyx = types.ModuleType("cupyx", "fake cupyx (tests/fake_cupy.py)")
    cupyx.scatter_add = _scatter_add
    return {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.runtime": runtime,
            "cupy.random": random, "cupy.lib": lib, "cupy.lib.stride_tricks": stride_tricks,
            "cupyx": cupyx}


_saved: dict[str, Any] = {}


def install() -> None:
    """Make ``import cupy`` / ``import cupyx`` give the double."""
    if "cupy" in sys.modules and getattr(sys.modules["cupy"], "fake", False):
        return
    for name, mod in _build().items():
        _saved[name] = sys.modules.get(name)
        sys.modules[name] = mod


def uninstall() -> None:
    """Restore ``sys.modules`` as it was before install()."""
    for name, mod in _saved.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
    _saved.clear()
    _current[0] = 0


@contextlib.contextmanager
def installed() -> Any:
    """install() for a with block."""
    install()
    try:
        yield
    finally:
        uninstall()
