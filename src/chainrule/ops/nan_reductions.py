"""NumPy's NaN-ignoring reductions: nansum, nanprod, nanmean, nanvar, nanstd, nanmax, nanmin,
nanargmax, nanargmin.

Each is its plain reduction on a copy whose NaNs are replaced by the neutral value (by `where`,
so a NaN's gradient is an exact 0, never NaN * 0); integer and bool inputs have no NaNs and take
the plain reduction, as NumPy's do.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import values
from chainrule.ops.axes import check_axis
from chainrule.ops.elementwise import astype, sqrt, where
from chainrule.ops.reduction import (
    _axis,
    _t,
    max,
    mean,
    min,
    normalize_axes,
    prod,
    std,
    sum,
    var,
)
from chainrule.tensor import Tensor


def _floating(a: Tensor) -> bool:
    return a.dtype.kind in "fc"


def _start(name: str, a: Any, axis: Any, dtype: Any, out: Any) -> tuple[Tensor, Any]:
    """(a in dtype, axis checked) for a public nan function."""
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (results are new Tensors)")
    a = _t(a)
    if dtype is not None:
        a = astype(a, dtype)
    axes = normalize_axes(name, axis, a.ndim)
    return a, axes


def _isnan(a: Tensor) -> Tensor:
    return values(np.isnan, a)


def _count(a: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """The number of non-NaN entries over axes, in a's dtype."""
    return values(partial(_count_of, axes, keepdims), a)


def _count_of(axes: tuple[int, ...], keepdims: bool, a: Any) -> Any:
    return B.asarray((~np.isnan(a)).sum(axis=axes, keepdims=keepdims)).astype(a.dtype)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
           keepdims: bool = False) -> Tensor:
    """Sum over axis treating NaNs as 0, as np.nansum; NaNs get gradient 0."""
    a, axes = _start("nansum", a, axis, dtype, out)
    if not _floating(a):
        return sum(a, axes, keepdims)
    return sum(where(_isnan(a), 0.0, a), axes, keepdims)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False) -> Tensor:
    """Product over axis treating NaNs as 1, as np.nanprod; NaNs get gradient 0."""
    a, axes = _start("nanprod", a, axis, dtype, out)
    if not _floating(a):
        return prod(a, axes, keepdims)
    return prod(where(_isnan(a), 1.0, a), axes, keepdims)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False) -> Tensor:
    """Mean of the non-NaN entries over axis, as np.nanmean (NaN where there are none)."""
    a, axes = _start("nanmean", a, axis, dtype, out)
    if not _floating(a):
        return mean(a, axes, keepdims)
    return _nanmean(a, axes, keepdims)


def _nanmean(a: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    s = sum(where(_isnan(a), 0.0, a), axes, keepdims)
    n = _count(a, axes, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / n
    if (n._data == 0).any():  # NumPy's warning, for an all-NaN (or empty) slice
        import warnings

        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)
    return m


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False) -> Tensor:
    """Variance of the non-NaN entries over axis with ddof, as np.nanvar (NaN where the count
    is at most ddof); NaNs get gradient 0."""
    a, axes = _start("nanvar", a, axis, dtype, out)
    if not _floating(a):
        return var(a, axes, keepdims, ddof)
    return _nanvar(a, axes, ddof, keepdims)


def _nanvar(a: Tensor, axes: tuple[int, ...], ddof: int, keepdims: bool) -> Tensor:
    nan = _isnan(a)
    n = _count(a, axes, True)
    m = sum(where(nan, 0.0, a), axes, True) / where(n > 0, n, 1.0)
    d = where(nan, 0.0, a - m)
    s = sum(d * d, axes, keepdims)
    dof = _count(a, axes, keepdims) - ddof
    ok = dof > 0
    if not ok._data.all():
        import warnings

        warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=3)
    return where(ok, s / where(ok, dof, 1.0), np.nan)


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False) -> Tensor:
    """Standard deviation of the non-NaN entries over axis with ddof, as np.nanstd."""
    a, axes = _start("nanstd", a, axis, dtype, out)
    if not _floating(a):
        return std(a, axes, keepdims, ddof)
    v = _nanvar(a, axes, ddof, keepdims)
    return where(v == 0, 0.0, sqrt(where(v == 0, 1.0, v)))


def _nanextreme(name: str, reduce: Any, fill: float, a: Any, axis: Any, out: Any,
                keepdims: bool) -> Tensor:
    a, axes = _start(name, a, axis, None, out)
    if not _floating(a):
        return reduce(a, axes, keepdims)
    nan = _isnan(a)
    m = reduce(where(nan, fill, a), axes, keepdims)
    empty = values(partial(np.all, axis=axes, keepdims=keepdims), nan)
    if empty._data.any():
        import warnings

        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
    return where(empty, np.nan, m)


def nanmax(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Tensor:
    """Max over axis ignoring NaNs, as np.nanmax (NaN for an all-NaN slice); ties share the
    gradient, NaNs get 0."""
    return _nanextreme("nanmax", max, -np.inf, a, axis, out, keepdims)


def nanmin(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Tensor:
    """Min over axis ignoring NaNs, as np.nanmin (NaN for an all-NaN slice); ties share the
    gradient, NaNs get 0."""
    return _nanextreme("nanmin", min, np.inf, a, axis, out, keepdims)


def nanargmax(a: Any, axis: int | None = None, out: None = None, *, keepdims: bool = False,
              dim: int | None = None) -> Tensor:
    """Index of the max ignoring NaNs, as np.nanargmax (int64, not differentiable; an all-NaN
    slice raises ValueError)."""
    return _nanarg("nanargmax", np.nanargmax, a, _axis(axis, dim), out, keepdims)


def nanargmin(a: Any, axis: int | None = None, out: None = None, *, keepdims: bool = False,
              dim: int | None = None) -> Tensor:
    """Index of the min ignoring NaNs, as np.nanargmin (int64, not differentiable; an all-NaN
    slice raises ValueError)."""
    return _nanarg("nanargmin", np.nanargmin, a, _axis(axis, dim), out, keepdims)


def _nanarg(name: str, fn: Any, a: Any, axis: Any, out: Any, keepdims: bool) -> Tensor:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (results are new Tensors)")
    a = _t(a)
    if axis is not None and a.ndim:
        axis = check_axis(name, axis, a.ndim)
    elif axis is not None:
        normalize_axes(name, axis, 0)  # a 0-d tensor takes axis 0 or -1, as NumPy
    if a.dtype.kind in "fc" and a.size:
        nan = np.isnan(a._data)
        if (nan.all() if axis is None else nan.all(axis=axis).any()):
            raise ValueError(f"{name}: all-NaN slice encountered")
    return values(partial(_nanindices, fn, axis, keepdims), a)


def _nanindices(fn: Any, axis: Any, keepdims: bool, a: Any) -> Any:
    return B.asarray(fn(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)
