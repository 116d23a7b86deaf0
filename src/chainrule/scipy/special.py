"""cr.scipy.special: SciPy's special functions, differentiable in both modes to any order.

The functions NumPy lacks are ops here (gammaln, polygamma, gamma, rgamma, erfc, log_ndtr,
logit, xlogy, xlog1py) with values from ``_kernels`` (no SciPy needed); the rest are chainrule's
ops or built from them. Each op's derivative is written with chainrule ops, so higher orders work.

The incomplete gamma and beta functions, erfinv/erfcinv and the Bessel functions take their
values from SciPy (imported on first call; computed on the host, so device arrays make a round
trip through host memory) and are differentiable in x only: their orders and
shape parameters (n, v, a, b) are constants, and passing one that carries a derivative raises
a ValueError (HIPS autograd has no derivative there either; JAX raises for betainc's).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.autodiff import function
from chainrule.autodiff.function import Context, Function, _apply1
from chainrule.ops import rules as R
from chainrule.ops.elementwise import Unary
from chainrule.ops.elementwise_more import Binary
from chainrule.ops.nn import erf
from chainrule.ops.rules import mask_safe
from chainrule.scipy._bessel import FAMILIES
from chainrule.scipy._incomplete import BetaInc, GammaInc, GammaIncc
from chainrule.scipy._kernels import (
    erfc_array,
    gamma_array,
    gammaln_array,
    gammasgn_array,
    log_ndtr_array,
    polygamma_array,
    rgamma_array,
)
from chainrule.scipy._util import as_floats, constant_arg, scipy_module, values
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_SQRT_PI = 0.5 * math.sqrt(math.pi)


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


class Gamma(Unary):
    """Gamma(x).  Derivative: Gamma(x) psi(x) (infinite at the poles 0, -1, -2, ...)."""

    name = "gamma"
    unsafe = True
    fn = staticmethod(gamma_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return y * _polygamma(0, x)


class Rgamma(Unary):
    """1 / Gamma(x).  Derivative: -psi(x) / Gamma(x)."""

    name = "rgamma"
    unsafe = True
    fn = staticmethod(rgamma_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return -y * _polygamma(0, x)


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


def _from_scipy(name: str) -> Any:
    """SciPy's ufunc ``name`` on an array, in float64 on the host (a device array makes a round
    trip), returned in the input's dtype on its device."""

    def fn(x: NDArray) -> NDArray:
        with np.errstate(all="ignore"):
            y = getattr(scipy_module("special"), name)(B.asnumpy(x).astype(np.float64))
        return B.move_like(y.astype(x.dtype), x)

    return fn


class Erfinv(Unary):
    """The inverse of erf on (-1, 1).  Derivative: sqrt(pi)/2 exp(y^2), y = erfinv(x)."""

    name = "erfinv"
    unsafe = True
    fn = staticmethod(_from_scipy("erfinv"))

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return _HALF_SQRT_PI * R.exp(y * y)


class Erfcinv(Unary):
    """The inverse of erfc on (0, 2).  Derivative: -sqrt(pi)/2 exp(y^2), y = erfcinv(x)."""

    name = "erfcinv"
    unsafe = True
    fn = staticmethod(_from_scipy("erfcinv"))

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return -_HALF_SQRT_PI * R.exp(y * y)


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
        zero = bv.dtype.type(0)
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
        zero = bv.dtype.type(0)
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
gamma = _unary(Gamma)
rgamma = _unary(Rgamma)
erfc = _unary(Erfc)
erfinv = _unary(Erfinv)
erfcinv = _unary(Erfcinv)
log_ndtr = _unary(LogNdtr)
logit = _unary(Logit)
expit = ops.sigmoid


def polygamma(n: int, x: Any) -> Tensor:
    """psi^(n)(x), the n-th derivative of digamma (n a whole number).  Derivative: psi^(n+1);
    none in n (a clear error if n carries one, as for the Bessel orders)."""
    n = constant_arg("polygamma", "n", n)
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


def gammasgn(x: Any) -> Tensor:
    """The sign of Gamma(x) (NaN at the poles).  Piecewise constant: no derivative (a constant
    Tensor, so its derivative is 0, as JAX's)."""
    x = _t(x)
    return Tensor(gammasgn_array(values(x).astype(x.dtype if x.dtype.kind == "f" else float)))


def beta(a: Any, b: Any) -> Tensor:
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b), as sign * exp(betaln(a, b)).

    Derivative: B (psi(a) - psi(a + b)) in a, B (psi(b) - psi(a + b)) in b.
    """
    a, b = as_floats(a, b)
    av, bv = values(a), values(b)
    sign = gammasgn_array(av) * gammasgn_array(bv) * gammasgn_array(av + bv)
    return sign * ops.exp(betaln(a, b))


def multigammaln(a: Any, d: int) -> Tensor:
    """log Gamma_d(a) = d(d-1)/4 log pi + sum_j gammaln(a - j/2), j = 0..d-1 (a > (d-1)/2).

    Derivative in a: sum_j digamma(a - j/2); d is a whole number (no derivative: a clear error
    if it carries one).
    """
    d = constant_arg("multigammaln", "d", d)
    if int(d) != d or d < 1:
        raise ValueError(f"multigammaln: d must be a positive whole number, got {d!r}")
    d = int(d)
    (a,) = as_floats(a)
    if np.any(values(a) <= 0.5 * (d - 1)):
        raise ValueError(f"multigammaln: condition a > (d-1)/2 = {0.5 * (d - 1)} not met")
    out = gammaln(a)
    for j in range(1, d):
        out = out + gammaln(a - 0.5 * j)
    return out + 0.25 * d * (d - 1) * math.log(math.pi)


def gammainc(a: Any, x: Any) -> Tensor:
    """P(a, x), the regularized lower incomplete gamma function, as scipy.special.gammainc.

    Derivative in x: exp(-x) x^(a-1) / Gamma(a). None in a: a must be a constant (ValueError).
    """
    a, x = as_floats(a, x)
    return GammaInc.apply(x, constant_arg("gammainc", "a", a))


def gammaincc(a: Any, x: Any) -> Tensor:
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function.

    Derivative in x: -exp(-x) x^(a-1) / Gamma(a). None in a: a must be a constant (ValueError).
    """
    a, x = as_floats(a, x)
    return GammaIncc.apply(x, constant_arg("gammaincc", "a", a))


def betainc(a: Any, b: Any, x: Any) -> Tensor:
    """I_x(a, b), the regularized incomplete beta function, as scipy.special.betainc.

    Derivative in x: x^(a-1) (1-x)^(b-1) / B(a, b). None in a and b: they must be constants
    (ValueError otherwise).
    """
    a, b, x = as_floats(a, b, x)
    return BetaInc.apply(x, constant_arg("betainc", "a", a), constant_arg("betainc", "b", b))


def _bessel(family: str, name: str, v: Any, x: Any, whole: bool = False) -> Tensor:
    v, x = as_floats(v, x)
    order = constant_arg(name, "the order", v)
    if whole and np.any(order != np.round(order)):
        raise ValueError(f"{name}: the order n must be whole numbers, got {order!r}")
    return FAMILIES[family].apply(x, order)


def j0(x: Any) -> Tensor:
    """J_0(x), Bessel of the first kind, order 0.  Derivative: -J_1(x)."""
    return _bessel("j", "j0", 0.0, x)


def j1(x: Any) -> Tensor:
    """J_1(x).  Derivative: (J_0(x) - J_2(x)) / 2."""
    return _bessel("j", "j1", 1.0, x)


def jv(v: Any, x: Any) -> Tensor:
    """J_v(x) of real order v.  Derivative in x: (J_{v-1} - J_{v+1}) / 2; none in v."""
    return _bessel("j", "jv", v, x)


def jn(n: Any, x: Any) -> Tensor:
    """J_n(x) of whole order n.  Derivative in x: (J_{n-1} - J_{n+1}) / 2; none in n."""
    return _bessel("j", "jn", n, x, whole=True)


def y0(x: Any) -> Tensor:
    """Y_0(x), Bessel of the second kind, order 0 (x > 0).  Derivative: -Y_1(x)."""
    return _bessel("y", "y0", 0.0, x)


def y1(x: Any) -> Tensor:
    """Y_1(x).  Derivative: (Y_0(x) - Y_2(x)) / 2."""
    return _bessel("y", "y1", 1.0, x)


def yn(n: Any, x: Any) -> Tensor:
    """Y_n(x) of whole order n.  Derivative in x: (Y_{n-1} - Y_{n+1}) / 2; none in n."""
    return _bessel("y", "yn", n, x, whole=True)


def yv(v: Any, x: Any) -> Tensor:
    """Y_v(x) of real order v.  Derivative in x: (Y_{v-1} - Y_{v+1}) / 2; none in v."""
    return _bessel("y", "yv", v, x)


def i0(x: Any) -> Tensor:
    """I_0(x), modified Bessel of the first kind, order 0.  Derivative: I_1(x)."""
    return _bessel("i", "i0", 0.0, x)


def i1(x: Any) -> Tensor:
    """I_1(x).  Derivative: (I_0(x) + I_2(x)) / 2."""
    return _bessel("i", "i1", 1.0, x)


def iv(v: Any, x: Any) -> Tensor:
    """I_v(x) of real order v.  Derivative in x: (I_{v-1} + I_{v+1}) / 2; none in v."""
    return _bessel("i", "iv", v, x)


def i0e(x: Any) -> Tensor:
    """exp(-|x|) I_0(x).  Derivative: i1e(x) - sign(x) i0e(x)."""
    return _bessel("ie", "i0e", 0.0, x)


def i1e(x: Any) -> Tensor:
    """exp(-|x|) I_1(x).  Derivative: (i0e(x) + ive(2, x)) / 2 - sign(x) i1e(x)."""
    return _bessel("ie", "i1e", 1.0, x)


def ive(v: Any, x: Any) -> Tensor:
    """exp(-|x|) I_v(x).  Derivative in x: (ive(v-1) + ive(v+1)) / 2 - sign(x) ive(v); none in v."""
    return _bessel("ie", "ive", v, x)


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
    m = function.values(partial(_shift, full, axes), a)  # a constant shift: no derivative
    s = ops.sum(b * ops.exp(a - m), axis=axes, keepdims=True)
    out = (ops.log(ops.abs(s)) if return_sign else ops.log(s)) + m
    if not keepdims:
        keep = [n for i, n in enumerate(out.shape) if i not in axes]
        out, s = out.reshape(keep), s.reshape(keep)
    return (out, ops.sign(s)) if return_sign else out


def _shift(full: tuple, axes: tuple, a: Any) -> Any:
    """logsumexp's stabilising shift: the max of a broadcast to full over axes (0 where it is
    not finite, or for no elements)."""
    if not a.size:
        return np.zeros((), a.dtype)
    m = np.max(np.broadcast_to(a, full), axis=axes, keepdims=True)
    return np.where(np.isfinite(m), m, 0).astype(a.dtype)


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
    "beta", "betainc", "betaln", "digamma", "erf", "erfc", "erfcinv", "erfinv", "expit", "gamma",
    "gammainc", "gammaincc", "gammaln", "gammasgn", "i0", "i0e", "i1", "i1e", "iv", "ive", "j0",
    "j1", "jn", "jv", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr",
    "polygamma", "psi", "rgamma", "softmax", "xlog1py", "xlogy", "y0", "y1", "yn", "yv",
]
