"""NumPy's order statistics and weighted mean: quantile, percentile, median, nanmedian, average,
and take_along_axis (which they gather with).

All are built from differentiable ops: the reduced axes are moved last and flattened, sorted
(a permutation, differentiable in the values), and the selected entries gathered by indexing, so
the gradient flows to the elements NumPy's formula picks or interpolates (as torch.quantile's).
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.dtypes import get_default_dtype
from chainrule.ops.axes import check_axis
from chainrule.ops.elementwise import astype, where
from chainrule.ops.indexing import getitem
from chainrule.ops.reduction import _t, mean, normalize_axes, sum
from chainrule.ops.scan import sort
from chainrule.ops.shape import broadcast_to, reshape, transpose
from chainrule.tensor import Tensor


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Tensor:
    """arr's entries at indices along axis, as np.take_along_axis (of the flattened arr when
    axis is None); differentiable in arr, repeated indices accumulating the gradient."""
    arr = _t(arr)
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: indices must be an integer array, got {idx.dtype}")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError("take_along_axis: when axis is None, indices must have a single "
                             f"dimension, got shape {idx.shape}")
        arr, axis = reshape(arr, (-1,)), 0
    if idx.ndim != arr.ndim:
        raise ValueError(f"take_along_axis: indices (shape {idx.shape}) and arr (shape "
                         f"{arr.shape}) must have the same number of dimensions")
    axis = check_axis("take_along_axis", axis, arr.ndim)
    others = [n for i, n in enumerate(arr.shape) if i != axis]
    try:
        np.broadcast_shapes(tuple(others), tuple(n for i, n in enumerate(idx.shape) if i != axis))
    except ValueError:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} do not broadcast with "
                         f"arr of shape {arr.shape} outside axis {axis}") from None
    index = tuple(idx if i == axis else
                  np.arange(n).reshape((1,) * i + (n,) + (1,) * (arr.ndim - i - 1))
                  for i, n in enumerate(arr.shape))
    return getitem(arr, index)


def _flat_last(name: str, a: Tensor, axis: Any) -> tuple[Tensor, tuple, tuple, int]:
    """(a with the reduced axes moved last and flattened into one, the kept shape, the shape
    keepdims gives, the number of reduced entries)."""
    axes = normalize_axes(name, axis, a.ndim)
    red = [ax % a.ndim for ax in axes] if a.ndim else []
    keep = [i for i in range(a.ndim) if i not in red]
    kept = tuple(a.shape[i] for i in keep)
    n = int(np.prod([a.shape[i] for i in red]))
    x = transpose(a, keep + red) if a.ndim > 1 else a
    return (reshape(x, (*kept, n)), kept,
            tuple(1 if i in red else s for i, s in enumerate(a.shape)), n)


def _as_float(name: str, a: Tensor, bools: bool) -> Tensor:
    if a.dtype.kind == "b" and not bools:
        raise TypeError(f"{name}: numpy boolean subtract is not supported (a bool tensor)")
    return a if a.dtype.kind in "fc" else astype(a, get_default_dtype())


def _has_nan(x: Tensor, kept: tuple) -> Tensor:
    """Whether each slice of x (reduced axis last) holds a NaN, shaped kept."""
    return values(lambda v: np.isnan(v).any(axis=-1), x)


def _start(name: str, a: Any, out: Any, method: str) -> Tensor:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (results are new Tensors)")
    if method != "linear":
        raise ValueError(f"{name}: method {method!r} is not supported (only 'linear', NumPy's "
                         "default)")
    return _t(a)


def quantile(a: Any, q: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False) -> Tensor:
    """The q-th quantiles (q in [0, 1]) over axis, as np.quantile with method='linear'; the
    gradient goes to the two entries each quantile interpolates (NaN where a slice has one)."""
    return _quantile("quantile", _start("quantile", a, out, method), q, axis, keepdims)


def percentile(a: Any, q: Any, axis: Any = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear",
               keepdims: bool = False) -> Tensor:
    """The q-th percentiles (q in [0, 100]) over axis, as np.percentile with method='linear'."""
    a = _start("percentile", a, out, method)
    qa = np.asarray(q._data if isinstance(q, Tensor) else q)
    if not np.all((qa >= 0) & (qa <= 100)):
        raise ValueError(f"percentile: percentiles must be in the range [0, 100], got {q}")
    return _quantile("percentile", a, np.true_divide(qa, 100), axis, keepdims)


def _quantile(name: str, a: Tensor, q: Any, axis: Any, keepdims: bool) -> Tensor:
    qa = np.asarray(q._data if isinstance(q, Tensor) else q)
    if qa.dtype.kind not in "biuf":
        raise TypeError(f"{name}: q must be real numbers, got {qa.dtype}")
    if not np.all((qa >= 0) & (qa <= 1)):
        raise ValueError(f"{name}: quantiles must be in the range [0, 1], got {q}")
    a = _as_float(name, a, bools=False)  # (the tensor's float dtype, whatever q's: the rule)
    dtype = a.dtype
    x, kept, kd_shape, n = _flat_last(name, a, axis)
    if n == 0:
        raise IndexError(f"{name}: cannot take a quantile of an empty slice (shape {a.shape}, "
                         f"axis {axis})")
    s = sort(x, axis=-1)
    pos = (n - 1) * qa.astype(np.float64)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = (pos - lo).astype(dtype)
    xl, xh = getitem(s, (Ellipsis, lo)), getitem(s, (Ellipsis, hi))
    d = xh - xl
    res = where(t >= 0.5, xh - d * (1 - t), xl + d * t)
    res = where(reshape(_has_nan(x, kept), kept + (1,) * qa.ndim), np.nan, res)
    k = len(kept)
    res = transpose(res, tuple(range(k, k + qa.ndim)) + tuple(range(k))) if k and qa.ndim else res
    return reshape(res, qa.shape + kd_shape) if keepdims else res


def median(a: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Tensor:
    """Median over axis, as np.median: the mean of the two middle entries of an even count, so
    each gets half the gradient; NaN where a slice holds a NaN (and for an empty one)."""
    if out is not None:
        raise TypeError("median: out= is not supported (results are new Tensors)")
    a = _as_float("median", _t(a), bools=True)
    x, kept, kd_shape, n = _flat_last("median", a, axis)
    if n == 0:  # NaN, with NumPy's warning
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
        return mean(a, axis, keepdims)
    s = sort(x, axis=-1)
    res = (s[..., (n - 1) // 2] + s[..., n // 2]) * 0.5
    res = where(_has_nan(x, kept), np.nan, res)
    return reshape(res, kd_shape) if keepdims else res


def nanmedian(a: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Tensor:
    """Median of the non-NaN entries over axis, as np.nanmedian (NaN for an all-NaN slice); NaNs
    get gradient 0."""
    if out is not None:
        raise TypeError("nanmedian: out= is not supported (results are new Tensors)")
    a = _t(a)
    if a.dtype.kind not in "fc":
        return median(a, axis, keepdims=keepdims)
    x, kept, kd_shape, n = _flat_last("nanmedian", a, axis)
    if n == 0:  # NaN, with NumPy's warning
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
        return mean(a, axis, keepdims)
    s = sort(x, axis=-1)  # NaNs last
    # the middle indices among each slice's non-NaN entries, by values (cr.compile replays them)
    lo, hi, empty = (values(partial(_middle, k), x) for k in ("lo", "hi", "empty"))
    if empty._data.any():
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=2)
    res = (take_along_axis(s, lo, -1) + take_along_axis(s, hi, -1)) * 0.5
    res = where(empty, np.nan, res)
    return reshape(res, kd_shape) if keepdims else reshape(res, kept)


def _middle(which: str, x: Any) -> Any:
    """For each slice of x (reduced axis last, kept as length 1): the index of the lower or
    upper middle non-NaN entry once sorted, or whether it has none."""
    count = (~np.isnan(x)).sum(axis=-1, keepdims=True)
    if which == "empty":
        return count == 0
    return np.maximum((count - 1) // 2, 0) if which == "lo" else count // 2


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean over axis, as np.average: sum(a * w) / sum(w), differentiable in a and
    the weights; with returned, also the sum of the weights (the count without weights)."""
    a = _t(a)
    if weights is None:
        avg = mean(a, axis, keepdims)
        n = int(np.prod([a.shape[i] for i in normalize_axes("average", axis, a.ndim)]))
        scl = broadcast_to(np.asarray(n, avg.dtype), avg.shape)
        return (avg, scl) if returned else avg
    w = _t(weights)
    axes = normalize_axes("average", axis, a.ndim)
    if w.shape != a.shape:
        if axis is None:
            raise TypeError("average: axis must be given when the shapes of a "
                            f"{a.shape} and weights {w.shape} differ")
        want = tuple(a.shape[ax] for ax in axes)
        ordered = [check_axis("average", ax, a.ndim) for ax in ((axis,) if np.ndim(axis) == 0
                                                            else axis)]
        if w.ndim != len(ordered):
            raise TypeError(f"average: weights of shape {w.shape} must have {len(ordered)} "
                            f"dimensions when the shapes of a {a.shape} and weights differ")
        if w.shape != tuple(a.shape[ax] for ax in ordered):
            raise ValueError(f"average: weights of shape {w.shape} do not fit axis {axis} of a "
                             f"tensor of shape {a.shape} ({want} along it)")
        w = transpose(w, tuple(int(i) for i in np.argsort(ordered))) if w.ndim > 1 else w
        w = reshape(w, tuple(s if i - a.ndim in axes else 1 for i, s in enumerate(a.shape)))
    scl = sum(broadcast_to(w, np.broadcast_shapes(w.shape, a.shape)) if w.shape != a.shape
              else w, axes, keepdims)
    if (scl._data == 0).any():
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    avg = sum(a * w, axes, keepdims) / scl
    if returned:
        return avg, broadcast_to(astype(scl, avg.dtype), avg.shape)
    return avg
