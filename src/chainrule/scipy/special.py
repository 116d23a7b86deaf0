"""cr.scipy.special: SciPy's special functions, differentiable in both modes to any order.

The functions NumPy lacks are ops here (gammaln, polygamma, erfc, log_ndtr, logit, xlogy,
xlog1py) with values from ``_kernels`` (no SciPy needed); the rest are chainrule's ops or built
from them. Each op's derivative is written with chainrule ops, so higher orders work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff.function import Context, Function, _apply1
from chainrule.ops import rules as R
from chainrule.ops.elementwise import Unary
from chainrule.ops.elementwise_more import Binary
from chainrule.ops.nn import erf
from chainrule.ops.rules import mask_safe
from chainrule.scipy._kernels import (
    erfc_array,
    gammaln_array,
    log_ndtr_array,
    polygamma_array,
)
from chainrule.scipy._util import as_floats, values
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _polygamma(n: int, x: Any) -> Any:
    """polygamma of an ndarray (plain) or a Tensor (recorded), for the rules."""
    return R.apply_op(Polygamma, x, n)


class Gammaln(Unary):
    """log |Gamma(x)|.  Derivative: digamma(x) (infinite at the poles 0, -1, -2, ...)."""

    name = "gammaln"
    unsafe = True
    fn = staticmethod(gammaln_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return _polygamma(0, x)


class Polygamma(Function):
    """psi^(n)(x), the n-th derivative of digamma.  Derivative: psi^(n+1)(x)."""

    name = "polygamma"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, n: int) -> NDArray:
        if x.dtype.kind != "f":  # as Unary's forward
            x = x.astype(np.float32 if x.dtype.itemsize <= 2 else np.float64)
        ctx.saved = (x,)
        ctx.n = n
        return polygamma_array(n, x)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return mask_safe(g, _polygamma(ctx.n + 1, x))

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        (x,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return mask_safe(dx, _polygamma(ctx.n + 1, x))


class Erfc(Unary):
    """1 - erf(x), accurate in the right tail.  Derivative: -2/sqrt(pi) exp(-x^2)."""

    name = "erfc"
    fn = staticmethod(erfc_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return -_TWO_OVER_SQRT_PI * R.exp(-(x * x))


class LogNdtr(Unary):
    """log Phi(x), Phi the standard normal CDF.  Derivative: phi(x)/Phi(x) = exp(log phi - y)."""

    name = "log_ndtr"
    fn = staticmethod(log_ndtr_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return R.exp(-0.5 * (x * x) - _HALF_LOG_2PI - y)


class Logit(Unary):
    """log(p / (1 - p)).  Derivative: 1/(p (1 - p)), infinite at 0 and 1."""

    name = "logit"
    unsafe = True

    @staticmethod
    def fn(x: NDArray) -> NDArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x) - np.log1p(-x)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return 1 / (x * (1 - x))


class Xlogy(Binary):
    """x log y, 0 where x = 0.  Partials: log y (0 where x = 0 and y <= 0, as PyTorch), x/y."""

    name = "xlogy"
    unsafe = True

    @staticmethod
    def fn(a: NDArray, b: NDArray) -> NDArray:
        return np.where((a == 0) & ~np.isnan(b), 0, a * np.log(b)).astype(a.dtype, copy=False)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        av, bv = R.value(a), R.value(b)
        zero = np.zeros((), bv.dtype)
        return R.where((av == 0) & (bv <= 0), zero, R.log(b)), a / b


class Xlog1py(Binary):
    """x log(1 + y), 0 where x = 0.  Partials: log1p y (0 where x = 0 and y <= -1), x/(1 + y)."""

    name = "xlog1py"
    unsafe = True

    @staticmethod
    def fn(a: NDArray, b: NDArray) -> NDArray:
        return np.where((a == 0) & ~np.isnan(b), 0, a * np.log1p(b)).astype(a.dtype, copy=False)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        av, bv = R.value(a), R.value(b)
        zero = np.zeros((), bv.dtype)
        log1p = ops.log1p(b) if isinstance(b, Tensor) else np.log1p(b)
        return R.where((av == 0) & (bv <= -1), zero, log1p), a / (1 + b)


# ----- public functions -----
def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _unary(cls: Any) -> Any:
    def fn(x: Any) -> Tensor:
        return _apply1(cls, _t(x))

    fn.__name__ = fn.__qualname__ = cls.name
    fn.__doc__ = cls.__doc__
    return fn


gammaln = _unary(Gammaln)
erfc = _unary(Erfc)
log_ndtr = _unary(LogNdtr)
logit = _unary(Logit)
expit = ops.sigmoid


def polygamma(n: int, x: Any) -> Tensor:
    """psi^(n)(x), the n-th derivative of digamma (n a whole number).  Derivative: psi^(n+1)."""
    if int(n) != n or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative whole number, got {n!r}")
    return Polygamma.apply(_t(x), int(n))


def digamma(x: Any) -> Tensor:
    """psi(x) = d/dx log Gamma(x).  Derivative: polygamma(1, x)."""
    return Polygamma.apply(_t(x), 0)


psi = digamma


def ndtr(x: Any) -> Tensor:
    """Phi(x), the standard normal CDF, as erfc(-x/sqrt 2)/2.  Derivative: phi(x)."""
    return 0.5 * erfc(-math.sqrt(0.5) * _t(x))


def betaln(a: Any, b: Any) -> Tensor:
    """log |B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    a, b = as_floats(a, b)
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def xlogy(x: Any, y: Any) -> Tensor:
    """x log y, 0 where x = 0 (so 0 log 0 = 0)."""
    return Xlogy.apply(*as_floats(x, y))


def xlog1py(x: Any, y: Any) -> Tensor:
    """x log(1 + y), 0 where x = 0."""
    return Xlog1py.apply(*as_floats(x, y))


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(int(a) % max(ndim, 1) for a in (axis if isinstance(axis, tuple | list)
                                               else (axis,)))


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """log(sum(b exp(a))) over axis, computed stably, as scipy.special.logsumexp.

    With ``return_sign`` returns (log|s|, sign s) for s = sum(b exp a). Derivative: with respect
    to a, b exp(a) / s; with respect to b, exp(a) / s.
    """
    if b is None and not return_sign:
        return ops.logsumexp(_t(a), axis, keepdims)
    a, b = as_floats(a, 1.0 if b is None else b)
    axes = _axes(axis, max(a.ndim, b.ndim))
    full = np.broadcast_shapes(a.shape, b.shape)
    m = np.max(np.broadcast_to(values(a), full), axis=axes, keepdims=True) if a.size else 0.0
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype)  # a constant shift: no derivative
    s = ops.sum(b * ops.exp(a - m), axis=axes, keepdims=True)
    out = (ops.log(ops.abs(s)) if return_sign else ops.log(s)) + m
    if not keepdims:
        keep = [n for i, n in enumerate(out.shape) if i not in axes]
        out, s = out.reshape(keep), s.reshape(keep)
    return (out, ops.sign(s)) if return_sign else out


def log_softmax(x: Any, axis: Any = None) -> Tensor:
    """x - logsumexp(x) over axis (all axes when None, as SciPy)."""
    x = _t(x)
    if isinstance(axis, int | np.integer):
        return ops.log_softmax(x, int(axis))
    return x - ops.logsumexp(x, _axes(axis, x.ndim), True)


def softmax(x: Any, axis: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) over axis (all axes when None, as SciPy)."""
    x = _t(x)
    if isinstance(axis, int | np.integer):
        return ops.softmax(x, int(axis))
    return ops.exp(log_softmax(x, axis))


__all__ = [
    "betaln", "digamma", "erf", "erfc", "expit", "gammaln", "log_ndtr", "log_softmax", "logit",
    "logsumexp", "ndtr", "polygamma", "psi", "softmax", "xlog1py", "xlogy",
]
