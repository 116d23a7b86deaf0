"""NumPy's cov and corrcoef, composed from differentiable chainrule ops (both modes and every
order come from theirs); weights are constants."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.dtypes import get_default_dtype
from chainrule.ops.elementwise import astype, clip, sqrt
from chainrule.ops.linalg import matmul
from chainrule.ops.reduction import mean
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import concatenate, squeeze
from chainrule.ops.shape_more import atleast_2d, diagonal
from chainrule.tensor import Tensor, as_operand


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _weights(fweights: Any, aweights: Any, n: int) -> tuple[Any, Any]:
    """NumPy's checks of the frequency and analytic weights: their product (or None) and the
    analytic weights (or None), as ndarrays."""
    w = None
    if fweights is not None:
        fw = np.asarray(fweights._data if isinstance(fweights, Tensor) else fweights)
        if not np.all(fw == np.around(fw)):
            raise TypeError("cov: fweights must be integer")
        if fw.ndim > 1:
            raise RuntimeError("cov: cannot handle multidimensional fweights")
        if fw.shape[0] != n:
            raise RuntimeError(f"cov: incompatible numbers of samples and fweights ({n} and "
                               f"{fw.shape[0]})")
        if np.any(fw < 0):
            raise ValueError("cov: fweights cannot be negative")
        w = fw
    aw = None
    if aweights is not None:
        aw = np.asarray(aweights._data if isinstance(aweights, Tensor) else aweights)
        if aw.ndim > 1:
            raise RuntimeError("cov: cannot handle multidimensional aweights")
        if aw.shape[0] != n:
            raise RuntimeError(f"cov: incompatible numbers of samples and aweights ({n} and "
                               f"{aw.shape[0]})")
        if np.any(aw < 0):
            raise ValueError("cov: aweights cannot be negative")
        w = aw if w is None else w * aw
    return w, aw


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Tensor:
    """The covariance matrix of the variables in m's rows (columns when rowvar is False), as
    np.cov: (X - mean) (X - mean)^T / (N - ddof), with NumPy's frequency and analytic weights.

    Derivative: in m and y, through that expression (the weights are constants).
    """
    m = _t(m)
    if m.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {m.shape})")
    dt = np.dtype(dtype) if dtype is not None else (
        m.dtype if m.dtype.kind == "f" else np.dtype(get_default_dtype()))
    x = atleast_2d(astype(m, dt))
    if not rowvar and m.ndim != 1:
        x = x.T
    if x.shape[0] == 0:  # no variables: NumPy's empty (0, 0), whatever y holds
        return Tensor(np.zeros((0, 0), dt))
    if y is not None:
        # Python data takes m's dtype (as NumPy's arrays decide): no float32 rounding first
        y = _t(y if isinstance(y, Tensor | np.ndarray | np.generic) else np.asarray(y, dt))
        if y.ndim > 2:
            raise ValueError(f"cov: y has more than 2 dimensions (shape {y.shape})")
        y = atleast_2d(astype(y, dt))
        if not rowvar and y.shape[0] != 1:
            y = y.T
        try:
            x = concatenate([x, y], axis=0)
        except ValueError:
            raise ValueError(f"cov: m and y have different numbers of observations "
                             f"({x.shape[1]} and {y.shape[1]})") from None
    if ddof is None:
        ddof = 0 if bias else 1
    if ddof != int(ddof):
        raise ValueError(f"cov: ddof must be an integer, got {ddof!r}")
    n = x.shape[1]
    w, aw = _weights(fweights, aweights, n)
    if w is None:
        avg = mean(x, axis=1)
        w_sum = n
    else:
        wt = w.astype(dt)
        w_sum = wt.sum()
        if w_sum == 0:
            raise ZeroDivisionError("cov: weights sum to zero, can't be normalized")
        avg = _sum(x * wt, axis=1) / w_sum
    if w is None:
        fact = n - ddof
    elif ddof == 0:
        fact = w_sum
    elif aw is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * np.sum(w * aw) / w_sum
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    xc = x - avg.reshape(-1, 1)
    xw = xc if w is None else xc * wt
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's c * (1 / fact), bit for bit
        c = matmul(xc, xw.T) * np.true_divide(1, np.asarray(fact, dt))
    return squeeze(c)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Tensor:
    """Pearson correlation coefficients, cov(x, y) / (std_i std_j) clipped to [-1, 1], as
    np.corrcoef.  Derivative: through cov, sqrt and the division (clip's at +-1)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:  # one variable: c / c (1, or NaN), as NumPy
        with np.errstate(divide="ignore", invalid="ignore"):
            return c / c
    with np.errstate(divide="ignore", invalid="ignore"):
        std = sqrt(diagonal(c))
        c = c / std.reshape(-1, 1) / std.reshape(1, -1)
    return clip(c, -1, 1)
