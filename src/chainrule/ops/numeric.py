"""NumPy's vdot, trapezoid and interp, composed from differentiable chainrule ops (both modes
and every order come from theirs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.dtypes import get_default_dtype
from chainrule.ops.axes import check_axis
from chainrule.ops.elementwise import astype, where
from chainrule.ops.elementwise_more import mod
from chainrule.ops.indexing import take
from chainrule.ops.predicates import equal, greater, isnan, less, logical_and
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.scan import diff
from chainrule.ops.shape import concatenate, reshape
from chainrule.tensor import Tensor, as_operand


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def float_operands(name: str, *xs: Any) -> list[Tensor]:
    """xs as Tensors of one float dtype: that of the Tensor and array operands (which must
    agree), else the default float dtype. Python numbers and lists take it directly, as NumPy
    lets an array's dtype decide (a list of floats is no float32 operand next to float64)."""
    strong = {x.dtype for x in xs if isinstance(x, Tensor | np.ndarray | np.generic)
              and x.dtype.kind == "f"}
    if len(strong) > 1:
        raise TypeError(f"{name}: operands have different float dtypes "
                        f"{' and '.join(sorted(map(str, strong)))}; cast one with .astype() "
                        "(chainrule never upcasts silently)")
    dt = strong.pop() if strong else np.dtype(get_default_dtype())
    return [astype(x, dt) if isinstance(x, Tensor) else as_operand(np.asarray(x, dt))
            for x in xs]


def vdot(a: Any, b: Any) -> Tensor:
    """The dot product of a and b flattened, sum(a.ravel() * b.ravel()), as np.vdot of real
    inputs (a 0-d Tensor).  Derivative: (g b, g a), reshaped back."""
    a, b = _t(a), _t(b)
    if a.size != b.size:
        raise ValueError(f"vdot: the inputs have different sizes {a.size} and {b.size} "
                         f"(shapes {a.shape} and {b.shape})")
    if a.dtype.kind != "f" and b.dtype.kind != "f":  # no derivative: NumPy's own, its dtype
        return values(np.vdot, a, b)
    return _sum(reshape(a, (-1,)) * reshape(b, (-1,)))


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Tensor:
    """The integral of y along axis by the trapezoidal rule, as np.trapezoid:
    sum(d * (y[1:] + y[:-1]) / 2) with d = diff(x) (x 1-D or y's shape) or the spacing dx.

    Derivative: in y, and in x (or a Tensor dx), through the same expression.
    """
    y = _t(y)
    ax = check_axis("trapezoid", axis, y.ndim) if y.ndim else axis
    if x is None:
        d = dx
    else:
        x = _t(x)
        if x.ndim == 1:
            d = diff(x)
            shape = [1] * y.ndim
            if not y.ndim:
                raise ValueError(f"trapezoid: y must have at least one axis, got shape "
                                 f"{y.shape}")
            shape[ax] = d.shape[0]
            d = reshape(d, tuple(shape))
        else:
            d = diff(x, axis=axis)
    if not y.ndim:
        raise ValueError(f"trapezoid: y must have at least one axis, got shape {y.shape}")
    hi = tuple(slice(1, None) if i == ax else slice(None) for i in range(y.ndim))
    lo = tuple(slice(None, -1) if i == ax else slice(None) for i in range(y.ndim))
    try:
        terms = d * (y[hi] + y[lo]) / 2.0
    except ValueError:
        raise ValueError(f"trapezoid: the spacing's shape {tuple(np.shape(d))} does not "
                         f"broadcast with y's {y.shape} along axis {axis}") from None
    return _sum(terms, axis=ax)


def _interval(xp: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The index j of the interval [xp[j], xp[j+1]] holding each x (clipped to the ends)."""
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(xp.shape[0] - 2, 0))


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Tensor:
    """The piecewise-linear interpolant through (xp, fp) at x, as np.interp (xp increasing;
    left and right, fp[0] and fp[-1] by default, outside; period for periodic xp).

    Derivative: in fp, in x (the interval's slope, 0 outside [xp[0], xp[-1]]) and in xp, each
    through the interpolation formula; at a knot, the interval to its right (left at the end).
    """
    if np.ndim(xp) != 1 or np.ndim(fp) != 1:
        raise ValueError(f"interp: xp and fp must be 1-D, got shapes {np.shape(xp)} and "
                         f"{np.shape(fp)}")
    if np.shape(xp)[0] != np.shape(fp)[0]:
        raise ValueError(f"interp: fp and xp are not of the same length ({np.shape(fp)[0]} and "
                         f"{np.shape(xp)[0]})")
    if not np.shape(xp)[0]:
        raise ValueError("interp: array of sample points is empty")
    x, xp, fp = float_operands("interp", x, xp, fp)
    dt = x.dtype
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be a non-zero value")
        period = abs(period)
        left = right = None
        x, xp = mod(x, np.asarray(period, dt)), mod(xp, np.asarray(period, dt))
        order = values(np.argsort, xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([xp[-1:] - period, xp, xp[0:1] + period])
        fp = concatenate([fp[-1:], fp, fp[0:1]])
    n = xp.shape[0]
    first, last = xp[0], xp[n - 1]
    lval = fp[0] if left is None else (left if isinstance(left, Tensor) else np.asarray(left, dt))
    rval = fp[n - 1] if right is None else (right if isinstance(right, Tensor)
                                            else np.asarray(right, dt))
    if n == 1:
        inside = fp[0]
    else:
        j = values(_interval, xp, x)
        xj, xj1, fj, fj1 = take(xp, j), take(xp, j + 1), take(fp, j), take(fp, j + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (fj1 - fj) / (xj1 - xj)
            inside = slope * (x - xj) + fj
            # NumPy's fallbacks where the formula gives NaN (an infinite slope)
            nan = isnan(inside)
            if nan._data.any():
                inside = where(nan, slope * (x - xj1) + fj1, inside)
                inside = where(logical_and(isnan(inside), equal(fj, fj1)), fj, inside)
        inside = where(equal(x, xj), fj, inside)
        inside = where(equal(x, last), fp[n - 1], inside)
    out = where(less(x, first), lval, where(greater(x, last), rval, inside))
    return out if out.shape == x.shape else out.reshape(x.shape)
