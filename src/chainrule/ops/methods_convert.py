"""Tensor methods in PyTorch's dialect: dtype and device conversion, factories, comparisons."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function
from chainrule.backend import asarray, asnumpy, device_index, is_device_array, on_device, to_device
from chainrule.device import CPU, as_device, device, is_device_like
from chainrule.ops import elementwise as E
from chainrule.ops import linalg as L
from chainrule.tensor import Tensor, _host_copy_first

# PyTorch's legacy type names, both ways
TYPE_NAMES = {
    np.dtype(np.float32): "torch.FloatTensor", np.dtype(np.float64): "torch.DoubleTensor",
    np.dtype(np.float16): "torch.HalfTensor", np.dtype(np.int64): "torch.LongTensor",
    np.dtype(np.int32): "torch.IntTensor", np.dtype(np.int16): "torch.ShortTensor",
    np.dtype(np.int8): "torch.CharTensor", np.dtype(np.uint8): "torch.ByteTensor",
    np.dtype(np.bool_): "torch.BoolTensor",
}
_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}


def _const(arr: Any) -> Tensor:
    return Tensor._make(asarray(arr), False, None)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def as_dtype(value: Any) -> np.dtype:
    """A NumPy dtype from a dtype, a NumPy type, a legacy tensor type or its name."""
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return np.dtype(value)
    except TypeError:
        dt = getattr(value, "dtype", None)  # torch.FloatTensor-style classes carry a dtype
        if isinstance(dt, np.dtype):
            return dt
        raise TypeError(f"expected a dtype, got {value!r}") from None


def cast(self: Tensor, dtype: Any) -> Tensor:
    """self as dtype (differentiable between float dtypes); self when it already is."""
    return E.astype(self, as_dtype(dtype))


def float(self: Tensor) -> Tensor:
    """As float32."""
    return E.astype(self, np.float32)


def double(self: Tensor) -> Tensor:
    """As float64."""
    return E.astype(self, np.float64)


def half(self: Tensor) -> Tensor:
    """As float16."""
    return E.astype(self, np.float16)


def long(self: Tensor) -> Tensor:
    """As int64."""
    return E.astype(self, np.int64)


def int(self: Tensor) -> Tensor:
    """As int32."""
    return E.astype(self, np.int32)


def short(self: Tensor) -> Tensor:
    """As int16."""
    return E.astype(self, np.int16)


def byte(self: Tensor) -> Tensor:
    """As uint8."""
    return E.astype(self, np.uint8)


def bool(self: Tensor) -> Tensor:
    """As bool."""
    return E.astype(self, np.bool_)


def type(self: Tensor, dtype: Any = None, non_blocking: Any = False) -> Any:
    """No argument: the legacy type name ('torch.FloatTensor'); else a cast to that type."""
    if dtype is None:
        return TYPE_NAMES.get(self.dtype, f"torch.{self.dtype}Tensor")
    return cast(self, dtype)


def type_as(self: Tensor, other: Any) -> Tensor:
    """self cast to other's dtype."""
    return E.astype(self, other.dtype)


def is_floating_point(self: Tensor) -> Any:
    """Whether the dtype is a float."""
    return self.dtype.kind == "f"


def parse_to(op: str, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """The (dtype, copy) asked by PyTorch's ``to`` arguments; the device must be available."""
    dtype, copy, _ = parse_to_device(op, args, kwargs)
    return dtype, copy


def parse_to_device(op: str, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    """The (dtype, copy, device or None) asked by PyTorch's ``to`` arguments."""
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"{op}: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif is_device_like(a):
            dev = a
        elif a is not None and not isinstance(a, builtins.bool):
            dtype = a
    return dtype, copy, None if dev is None else as_device(dev, op)


class ToDevice(Function):
    """x copied to a CUDA device (its ordinal) or to the host (None); the rules copy the
    cotangent back and the tangent along."""

    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: Any, index: Any) -> Any:
        ctx.src = device_index(x) if is_device_array(x) else None
        ctx.dst = index
        return to_device(x, index)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return move(g, ctx.src)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return move(dx, ctx.dst)


def move(x: Any, index: Any) -> Any:
    """x (a Tensor, differentiably, or an array) on CUDA device ``index`` (None: the host)."""
    if isinstance(x, Tensor):
        if x.device == _device_of_index(index):
            return x
        return ToDevice.apply(x, index)
    return to_device(x, index)


def _device_of_index(index: Any) -> Any:
    return CPU if index is None else device("cuda", index)


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``to(dtype)``, ``to(device, dtype=None)``, ``to(other)``; self when nothing changes."""
    dtype, copy, dev = parse_to_device("to", args, kwargs)
    out = self if dtype is None else cast(self, dtype)
    if dev is not None:
        out = move(out, dev.index)
    if copy and out is self:
        from chainrule.ops.shape import clone

        out = clone(self)
    return out


def cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    """A copy on the host (self when it is there already)."""
    return move(self, None)


def cuda(self: Tensor, device: Any = None, non_blocking: Any = False) -> Tensor:
    """A copy on a CUDA device (the current one by default; self when it is there already)."""
    d = as_device("cuda" if device is None else device, "cuda")
    return move(self, d.index)


def numpy(self: Tensor, *, force: Any = False) -> np.ndarray:
    """The ndarray (shared memory); ``force=True`` copies a CUDA tensor to the host first."""
    d = self._data
    if type(d) is np.ndarray:
        return d
    if force:
        return asnumpy(d)
    if is_device_array(d):
        raise TypeError(_host_copy_first(self))
    return d


def _new(self: Tensor, arr: np.ndarray, requires_grad: Any, device: Any = None) -> Tensor:
    """A new tensor from the host array arr, on device (self's when None, as PyTorch)."""
    index = device_index(self._data) if device is None and self.is_cuda else (
        None if device is None else as_device(device).index)
    t = Tensor._make(to_device(arr, index), False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size: tuple) -> tuple:
    if len(size) == 1 and isinstance(size[0], tuple | list):
        return tuple(size[0])
    return tuple(size)


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: Any = False, **_: Any) -> Tensor:
    """Zeros of size with self's dtype (or dtype)."""
    as_device(device, "new_zeros")
    return _new(self, np.zeros(_size(size), self.dtype if dtype is None else as_dtype(dtype)),
                requires_grad, device)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: Any = False, **_: Any) -> Tensor:
    """Ones of size with self's dtype (or dtype)."""
    as_device(device, "new_ones")
    return _new(self, np.ones(_size(size), self.dtype if dtype is None else as_dtype(dtype)),
                requires_grad, device)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: Any = False, **_: Any) -> Tensor:
    """Uninitialized values of size with self's dtype (or dtype)."""
    as_device(device, "new_empty")
    return _new(self, np.empty(_size(size), self.dtype if dtype is None else as_dtype(dtype)),
                requires_grad, device)


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: Any = False, **_: Any) -> Tensor:
    """fill_value everywhere, with self's dtype (or dtype)."""
    as_device(device, "new_full")
    dt = self.dtype if dtype is None else as_dtype(dtype)
    return _new(self, np.full(tuple(size), fill_value, dt), requires_grad, device)


def new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: Any = False, **_: Any) -> Tensor:
    """A new tensor holding a copy of data, with self's dtype (or dtype)."""
    as_device(device, "new_tensor")
    dt = self.dtype if dtype is None else as_dtype(dtype)
    return _new(self, np.array(asnumpy(_raw(data)), dtype=dt), requires_grad, device)


# ----- comparisons (not differentiable) -----
def _cmp(fn: Any, name: str) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return self._compare(other, fn)

    method.__name__ = name
    method.__doc__ = f"Elementwise {name} (a bool tensor)."
    return method


eq = _cmp(np.equal, "eq")
ne = _cmp(np.not_equal, "ne")
lt = less = _cmp(np.less, "lt")
le = less_equal = _cmp(np.less_equal, "le")
gt = greater = _cmp(np.greater, "gt")
ge = greater_equal = _cmp(np.greater_equal, "ge")
logical_and = _cmp(np.logical_and, "logical_and")
logical_or = _cmp(np.logical_or, "logical_or")
logical_xor = _cmp(np.logical_xor, "logical_xor")


def logical_not(self: Tensor) -> Tensor:
    """Elementwise not."""
    return _const(np.logical_not(self._data))


def isnan(self: Tensor) -> Tensor:
    """Where the entries are NaN."""
    return _const(np.isnan(self._data))


def isinf(self: Tensor) -> Tensor:
    """Where the entries are infinite."""
    return _const(np.isinf(self._data))


def isfinite(self: Tensor) -> Tensor:
    """Where the entries are finite."""
    return _const(np.isfinite(self._data))


def equal(self: Tensor, other: Any) -> Any:
    """True when the shapes and every entry are equal."""
    o = _raw(other)
    return self.shape == np.shape(o) and np.array_equal(self._data, o)


def allclose(self: Tensor, other: Any, rtol: Any = 1e-5, atol: Any = 1e-8,
             equal_nan: Any = False) -> Any:
    """Whether all entries are close (as torch.allclose)."""
    return np.allclose(self._data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan)


def nonzero(self: Tensor, *, as_tuple: Any = False) -> Any:
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or one tensor per axis."""
    idx = np.nonzero(self._data)
    if as_tuple:
        return tuple(_const(i.astype(np.int64)) for i in idx)
    return _const(np.stack(idx, axis=1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))


# ----- products -----
def mm(self: Tensor, other: Any) -> Tensor:
    """Matrix product of two 2-D tensors (other may be sparse)."""
    if getattr(other, "is_sparse", False) is True:
        return other.__rmatmul__(self)
    if self.ndim != 2 or np.ndim(_raw(other)) != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {self.shape} and "
                           f"{np.shape(_raw(other))}")
    return L.matmul(self, other)


def bmm(self: Tensor, other: Any) -> Tensor:
    """Batched matrix product of two 3-D tensors."""
    if self.ndim != 3 or np.ndim(_raw(other)) != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got shapes {self.shape} and "
                           f"{np.shape(_raw(other))}")
    return L.matmul(self, other)


def mv(self: Tensor, vec: Any) -> Tensor:
    """Matrix-vector product."""
    return L.matmul(self, vec)


def to_sparse(self: Tensor, sparse_dim: Any = None) -> Any:
    """The non-zero entries as a COO sparse tensor (chainrule.sparse.SparseTensor)."""
    from chainrule.sparse import to_sparse as _to_sparse

    return _to_sparse(self, sparse_dim)


def to_dense(self: Tensor) -> Tensor:
    """self (already dense)."""
    return self


# ----- memory -----
def share_memory_(self: Tensor) -> Tensor:
    """Move the values into shared memory, seen by processes started later (hogwild); a no-op
    for a CUDA tensor, as PyTorch's."""
    from chainrule.shared import share

    if on_device(self._data):
        return self
    self._data = share(self._data)
    return self


def is_shared(self: Tensor) -> Any:
    """Whether the values live in shared memory (share_memory_); True for a CUDA tensor, as
    PyTorch's."""
    from chainrule.shared import is_shared as _is_shared

    if on_device(self._data):
        return True
    return _is_shared(self._data)


def element_size(self: Tensor) -> Any:
    """Bytes per element."""
    return self.dtype.itemsize


def stride(self: Tensor, dim: Any = None) -> Any:
    """Strides in elements (as PyTorch), all axes or one."""
    st = tuple(s // self.dtype.itemsize for s in self._data.strides)
    return st if dim is None else st[dim]


def is_contiguous(self: Tensor, memory_format: Any = None) -> Any:
    """Whether the memory is C-contiguous."""
    return self._data.flags.c_contiguous


def data_ptr(self: Tensor) -> Any:
    """Address of the first element (in device memory for a CUDA tensor)."""
    d = self._data
    if on_device(d):
        return d.data.ptr
    return d.ctypes.data
