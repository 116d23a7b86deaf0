"""The Tensor's methods, in PyTorch's dialect, over the same ops as the NumPy-dialect functions.

Each method only handles arguments and return shapes (``t.max(1)`` returns values and indices,
``t.split(2)`` makes chunks of size 2, ``t.transpose(0, 1)`` swaps two axes); the computation is
the op the ``cr.`` function uses. Where NumPy's keyword makes the intent clear (``axis=``) the
method answers as NumPy does.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import values
from chainrule.ops import elementwise as E
from chainrule.ops import elementwise_more as EM
from chainrule.ops import indexing as I
from chainrule.ops import reduction as R
from chainrule.ops import rounding as RD
from chainrule.ops import scan as SC
from chainrule.ops import shape as S
from chainrule.ops import shape_more as SM
from chainrule.tensor import Tensor

# torch.return_types: named (values, indices) pairs
ReturnMax = namedtuple("max", ["values", "indices"])
ReturnMin = namedtuple("min", ["values", "indices"])
ReturnSort = namedtuple("sort", ["values", "indices"])
ReturnTopk = namedtuple("topk", ["values", "indices"])
ReturnKth = namedtuple("kthvalue", ["values", "indices"])
ReturnMedian = namedtuple("median", ["values", "indices"])


def _const(arr: Any) -> Tensor:
    return Tensor._make(B.asarray(arr), False, None)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _shape_args(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _dim(dim: Any, axis: Any) -> Any:
    return axis if dim is None else dim


# ----- shape and views -----
def view(self: Tensor, *shape: Any) -> Tensor:
    """t.view(2, 3), t.view(-1) (a reshape), or t.view(dtype) (reinterpret the bytes)."""
    if len(shape) == 1 and not isinstance(shape[0], int | tuple | list):
        return _const(self._data.view(np.dtype(shape[0])))
    return S.reshape(self, _shape_args(shape))


def reshape(self: Tensor, *shape: Any) -> Tensor:
    """t.reshape(2, 3) or t.reshape((2, 3))."""
    return S.reshape(self, _shape_args(shape))


def view_as(self: Tensor, other: Any) -> Tensor:
    """Reshape to other's shape."""
    return S.reshape(self, tuple(other.shape))


def contiguous(self: Tensor, memory_format: Any = None) -> Tensor:
    """self when C-contiguous, else a contiguous copy."""
    return self if self._data.flags.c_contiguous else S.clone(self)


def clone(self: Tensor, memory_format: Any = None) -> Tensor:
    """A copy in new memory (differentiable)."""
    return S.clone(self)


def transpose(self: Tensor, *axes: Any, dim0: Any = None, dim1: Any = None) -> Tensor:
    """PyTorch's ``t.transpose(d0, d1)`` swaps two axes; NumPy's forms permute."""
    if dim0 is not None or dim1 is not None:
        axes = (dim0, dim1)
    if len(axes) == 2 and builtins.all(isinstance(a, int | np.integer) for a in axes):
        return S.swapaxes(self, int(axes[0]), int(axes[1]))
    if not axes:
        return S.transpose(self, None)
    return S.transpose(self, axes[0] if len(axes) == 1 else axes)


def t(self: Tensor) -> Tensor:
    """Transpose of a 2-D tensor (0-D and 1-D unchanged), as torch.t."""
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return self if self.ndim < 2 else S.transpose(self, None)


def mT(self: Tensor) -> Tensor:
    """Swap the last two axes."""
    return S.swapaxes(self, -2, -1)


def permute(self: Tensor, *dims: Any) -> Tensor:
    """Permute axes: t.permute(2, 0, 1) or t.permute((2, 0, 1))."""
    return S.transpose(self, _shape_args(dims))


def expand(self: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to sizes (-1 keeps a size)."""
    sizes = _shape_args(sizes)
    lead = len(sizes) - self.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({self.ndim})")
    shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return S.broadcast_to(self, shape)


def expand_as(self: Tensor, other: Any) -> Tensor:
    """Broadcast to other's shape."""
    return S.broadcast_to(self, tuple(other.shape))


def repeat(self: Tensor, *sizes: Any) -> Tensor:
    """Tile: repeat the tensor sizes[i] times along each axis (as torch.Tensor.repeat)."""
    sizes = _shape_args(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError("repeat: number of repeat dims can not be smaller than number of "
                           f"dimensions of tensor ({len(sizes)} < {self.ndim})")
    return SM.tile(self, sizes)


def split(self: Tensor, split_size_or_sections: Any, dim: int = 0, *,
          axis: Any = None) -> Any:
    """PyTorch: chunks of size n (or the given sizes) along dim; with ``axis=``, as np.split."""
    if axis is not None:
        return S.split(self, split_size_or_sections, axis)
    n = self.shape[dim]
    if isinstance(split_size_or_sections, int | np.integer):
        step = int(split_size_or_sections)
        if step <= 0 and n:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        bounds = list(range(step, n, step)) if n else []
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split: split_with_sizes expects split_sizes to sum exactly to "
                               f"{n} (input tensor's size at dimension {dim}), but got {sizes}")
        bounds = list(np.cumsum(sizes)[:-1])
    return tuple(S.split(self, bounds, dim))


def chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of equal size (the last may be smaller), as torch.chunk."""
    n = self.shape[dim]
    return split(self, builtins.max(1, math.ceil(n / chunks)), dim)


def unbind(self: Tensor, dim: int = 0) -> tuple:
    """The slices along dim, each without that axis."""
    return tuple(select(self, dim, i) for i in range(self.shape[dim]))


def select(self: Tensor, dim: int, index: int) -> Tensor:
    """The slice at index along dim (the axis removed)."""
    return I.getitem(self, (slice(None),) * (dim % self.ndim) + (index,))


def narrow(self: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice [start, start + length) along dim."""
    return I.getitem(self, (slice(None),) * (dim % self.ndim) + (slice(start, start + length),))


def squeeze(self: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop length-1 axes (those among dim); PyTorch leaves a dim that is not length 1 alone."""
    if axis is not None:
        return S.squeeze(self, axis)
    if dim is None:
        return S.squeeze(self)
    dims = tuple(dim) if isinstance(dim, tuple | list) else (dim,)
    n = builtins.max(self.ndim, 1)
    keep = tuple(d % n for d in dims if self.ndim and self.shape[d] == 1)
    return S.squeeze(self, keep) if keep else self


def unflatten(self: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split axis dim into sizes."""
    d = dim % self.ndim
    return S.reshape(self, self.shape[:d] + tuple(sizes) + self.shape[d + 1:])


def flip(self: Tensor, *dims: Any) -> Tensor:
    """Reverse the order along dims."""
    dims = _shape_args(dims)
    idx = [slice(None)] * self.ndim
    for d in dims:
        idx[d] = slice(None, None, -1)
    return I.getitem(self, tuple(idx))


def _axis_index(shape: tuple[int, ...], dim: int, index: np.ndarray) -> tuple:
    """An advanced index picking index[..] along dim and the same position elsewhere."""
    d = dim % len(shape)
    grids = [B.like(g, index) for g in np.indices(index.shape, sparse=True)]
    grids[d] = index
    return tuple(grids)


def gather(self: Tensor, dim: int, index: Any) -> Tensor:
    """out[i][j] = self[index[i][j]][j] along dim (differentiable in self)."""
    idx = B.asarray(_raw(index))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: expected an integer index, got {idx.dtype}")
    if idx.ndim != self.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dims but the tensor has {self.ndim}")
    return I.getitem(self, _axis_index(self.shape, dim, idx))


def scatter(self: Tensor, dim: int, index: Any, src: Any = None, value: Any = None,
            reduce: Any = None) -> Tensor:
    """A copy of self with src (or value) written at index along dim."""
    idx = B.asarray(_raw(index))
    where = _axis_index(self.shape, dim, idx)
    v = value if src is None else src
    if isinstance(v, Tensor) and v.ndim:
        v = I.getitem(v, tuple(slice(0, n) for n in idx.shape))
    if reduce in ("add", "sum"):
        return scatter_add(self, dim, index, v)
    if reduce is not None:
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported")
    return I.index_put(self, where, v)


def scatter_add(self: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """self plus src added at index along dim (repeated indices accumulate)."""
    idx = B.asarray(_raw(index))
    if isinstance(src, Tensor) and src.ndim:
        src = I.getitem(src, tuple(slice(0, n) for n in idx.shape))
    src = src if isinstance(src, Tensor) else Tensor._make(
        np.broadcast_to(B.array_like(src, self._data, self.dtype), idx.shape), False, None)
    return self + I.Scatter.apply(src, self.shape, _axis_index(self.shape, dim, idx))


def index_select(self: Tensor, dim: int, index: Any) -> Tensor:
    """The entries at index along dim."""
    return I.take(self, B.asarray(_raw(index)).reshape(-1), axis=dim)


def masked_fill(self: Tensor, mask: Any, value: Any) -> Tensor:
    """self with value where mask is True."""
    m = B.asarray(_raw(mask))
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill: expected a bool mask, got {m.dtype}")
    v = value if isinstance(value, Tensor) else B.array_like(value, self._data, self.dtype)
    return E.where(m, v, self)


def masked_select(self: Tensor, mask: Any) -> Tensor:
    """1-D tensor of the values where mask is True."""
    m = np.broadcast_to(B.asarray(_raw(mask)), self.shape)
    return I.getitem(self, m)


def where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """self where condition, else other (torch.Tensor.where)."""
    return E.where(condition, self, other)


# ----- reductions -----
def _pair(kind: Any, fn: Any, argfn: Any, self: Tensor, dim: Any, keepdim: bool) -> Any:
    """(values, indices) of a max or min over dim; as PyTorch's, the gradient of the values goes
    to the returned index alone (fn, the reduction, would share it between ties)."""
    indices = argfn(self, dim, keepdims=True)
    values = self.gather(dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return kind(values, indices)


def max(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Any = None, out: Any = None) -> Any:
    """No dim: the max value; dim: (values, indices); a tensor: elementwise maximum."""
    if isinstance(dim, Tensor):
        return E.maximum(self, dim)
    if axis is not None or keepdims is not None:
        return R.max(self, axis, keepdims=bool(keepdims))
    if dim is None:
        return R.max(self)
    return _pair(ReturnMax, R.max, R.argmax, self, dim, keepdim)


def min(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Any = None, out: Any = None) -> Any:
    """No dim: the min value; dim: (values, indices); a tensor: elementwise minimum."""
    if isinstance(dim, Tensor):
        return E.minimum(self, dim)
    if axis is not None or keepdims is not None:
        return R.min(self, axis, keepdims=bool(keepdims))
    if dim is None:
        return R.min(self)
    return _pair(ReturnMin, R.min, R.argmin, self, dim, keepdim)


def amax(self: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Max values over dim (ties share the gradient)."""
    return R.max(self, dim, keepdims=keepdim)


def amin(self: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Min values over dim (ties share the gradient)."""
    return R.min(self, dim, keepdims=keepdim)


def _reduce_with_dtype(fn: Any) -> Any:
    def method(self: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
               axis: Any = None, keepdims: Any = None, out: Any = None) -> Tensor:
        if out is not None:
            raise TypeError(f"{fn.__name__}: out= is not supported on a Tensor")
        x = self if dtype is None else E.astype(self, dtype)
        kd = keepdim if keepdims is None else keepdims
        return fn(x, _dim(dim, axis), keepdims=kd)

    method.__name__ = fn.__name__
    method.__doc__ = f"{fn.__name__} over dim (all when None); dtype= casts first."
    return method


sum = _reduce_with_dtype(R.sum)
mean = _reduce_with_dtype(R.mean)
prod = _reduce_with_dtype(R.prod)


def _moment(fn: Any) -> Any:
    def method(self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
               correction: Any = None, ddof: Any = None, axis: Any = None,
               keepdims: Any = None) -> Tensor:
        if isinstance(unbiased, bool | np.bool_):
            c = int(unbiased)
        elif unbiased is not None:  # t.var(0, 1): positional dim then correction-like
            dim, c = dim, int(unbiased)
        else:
            c = 1  # PyTorch's default: the unbiased estimate
        if correction is not None:
            c = int(correction)
        if ddof is not None:
            c = int(ddof)
        elif axis is not None:
            c = 0 if correction is None and unbiased is None else c  # NumPy's call
        kd = keepdim if keepdims is None else keepdims
        return fn(self, _dim(dim, axis), keepdims=kd, ddof=c)

    method.__name__ = fn.__name__
    method.__doc__ = (f"{fn.__name__} over dim with PyTorch's default correction=1 "
                      "(ddof= or axis= give NumPy's default 0).")
    return method


var = _moment(R.var)
std = _moment(R.std)


def logsumexp(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
              keepdims: Any = None) -> Tensor:
    """log(sum(exp(x))) over dim."""
    return R.logsumexp(self, _dim(dim, axis), keepdims=keepdim if keepdims is None else keepdims)


def argsort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort along dim."""
    return values(partial(_sorting, dim, descending, None), self)


def _sorting(dim: int, descending: bool, k: int | None, a: Any) -> Any:
    """int64 indices sorting a along dim (stably), the first k of them unless k is None."""
    idx = np.argsort(-a if descending and a.dtype.kind != "b" else a, axis=dim, kind="stable")
    if descending and a.dtype.kind == "b":
        idx = np.argsort(~a, axis=dim, kind="stable")
    if k is not None and idx.ndim:
        idx = idx[(slice(None),) * (dim % idx.ndim) + (slice(0, k),)]
    return idx.astype(np.int64)


def sort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along dim; values are differentiable."""
    idx = argsort(self, dim, descending)
    return ReturnSort(gather(self, dim, idx), idx)


def topk(self: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The k largest (or smallest) entries along dim, as (values, indices)."""
    n = self.shape[dim] if self.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for a dimension of size {n}")
    idx = values(partial(_sorting, dim, largest, k), self)
    return ReturnTopk(gather(self, dim, idx), idx)


def argmax(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:
    """Index of the max over dim (of the flattened tensor when None)."""
    return R.argmax(self, _dim(dim, axis), keepdims=keepdim if keepdims is None else keepdims)


def argmin(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:
    """Index of the min over dim (of the flattened tensor when None)."""
    return R.argmin(self, _dim(dim, axis), keepdims=keepdim if keepdims is None else keepdims)


def count_nonzero(self: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero entries over dim (all when None), int64."""
    return R.count_nonzero(self, dim)


def all(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
    """Whether all entries are true (over dim)."""
    return values(partial(np.all, axis=_dim(dim, axis), keepdims=keepdim), self)


def any(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
    """Whether any entry is true (over dim)."""
    return values(partial(np.any, axis=_dim(dim, axis), keepdims=keepdim), self)


def norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """Vector p-norm over dim (all entries when None); 'fro' is the 2-norm of the entries."""
    x = self if dtype is None else E.astype(self, dtype)
    if p in ("fro", 2, 2.0):
        return E.sqrt(R.sum(x * x, dim, keepdims=keepdim))
    if p in (math.inf, "inf"):
        return R.max(E.abs(x), dim, keepdims=keepdim)
    if p in (-math.inf, "-inf"):
        return R.min(E.abs(x), dim, keepdims=keepdim)
    if p == 1:
        return R.sum(E.abs(x), dim, keepdims=keepdim)
    if p == 0:
        return _const(np.sum(x._data != 0, axis=dim, keepdims=keepdim).astype(x.dtype))
    return E.power(R.sum(E.power(E.abs(x), p), dim, keepdims=keepdim), 1.0 / p)


def cumsum(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sum along dim."""
    return SC.cumsum(self, dim, dtype)


# ----- elementwise -----
def add(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self + alpha * other."""
    return self + (other if alpha == 1 else other * alpha)


def sub(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self - alpha * other."""
    return self - (other if alpha == 1 else other * alpha)


def mul(self: Tensor, other: Any) -> Tensor:
    """self * other."""
    return self * other


def div(self: Tensor, other: Any, *, rounding_mode: Any = None) -> Tensor:
    """self / other; rounding_mode 'trunc' or 'floor' rounds the quotient (no gradient)."""
    if rounding_mode is None:
        return self / other
    q = np.divide(self._data, _raw(other))
    r = np.trunc(q) if rounding_mode == "trunc" else np.floor(q)
    dt = np.result_type(self._data, _raw(other)) if self.dtype.kind != "f" else self.dtype
    return _const(r.astype(dt))


def pow(self: Tensor, exponent: Any) -> Tensor:
    """self ** exponent."""
    return E.power(self, exponent)


def rsqrt(self: Tensor) -> Tensor:
    """1 / sqrt(self)."""
    return 1.0 / E.sqrt(self)


def square(self: Tensor) -> Tensor:
    """self * self."""
    return self * self


def reciprocal(self: Tensor) -> Tensor:
    """1 / self."""
    return 1.0 / self


def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp to [min, max] (either may be None; tensors give elementwise bounds)."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = self if min is None else E.maximum(self, min)
        return out if max is None else E.minimum(out, max)
    return E.clip(self, min, max)


def clamp_min(self: Tensor, min: Any) -> Tensor:
    """Clamp from below."""
    return clamp(self, min, None)


def clamp_max(self: Tensor, max: Any) -> Tensor:
    """Clamp from above."""
    return clamp(self, None, max)


def addcmul(self: Tensor, t1: Any, t2: Any, *, value: Any = 1) -> Tensor:
    """self + value * t1 * t2."""
    return self + value * t1 * t2


def addcdiv(self: Tensor, t1: Any, t2: Any, *, value: Any = 1) -> Tensor:
    """self + value * t1 / t2."""
    return self + value * t1 / t2


def lerp(self: Tensor, end: Any, weight: Any) -> Tensor:
    """self + weight * (end - self)."""
    return self + weight * (end - self)


def floor(self: Tensor) -> Tensor:
    """Round down (derivative 0, as PyTorch; integer tensors stay integers)."""
    return RD.floor(self) if self.dtype.kind == "f" else _const(self._data.copy())


def ceil(self: Tensor) -> Tensor:
    """Round up (derivative 0, as PyTorch; integer tensors stay integers)."""
    return RD.ceil(self) if self.dtype.kind == "f" else _const(self._data.copy())


def trunc(self: Tensor) -> Tensor:
    """Round toward zero (derivative 0, as PyTorch; integer tensors stay integers)."""
    return RD.trunc(self) if self.dtype.kind == "f" else _const(self._data.copy())


def round(self: Tensor, *, decimals: int = 0) -> Tensor:
    """Round to decimals places, halves to even (derivative 0, as PyTorch; integer tensors
    stay integers)."""
    return RD.round(self, decimals)


def log2(self: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return EM.log2(self)


def log10(self: Tensor) -> Tensor:
    """Base-10 logarithm."""
    return EM.log10(self)
