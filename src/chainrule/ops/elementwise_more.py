"""NumPy's further elementwise functions: inverse trig and hyperbolic, exp/log variants, rounding,
mod, hypot, fmax/fmin, sinc, angle conversions, nan_to_num, and real/imag/conj of real inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function, _apply1
from chainrule.dtypes import to_float
from chainrule.ops import rules as R
from chainrule.ops.elementwise import (
    Abs,
    Maximum,
    Unary,
    _quiet,
    broadcast_error,
    lift,
    promote,
)
from chainrule.ops.rules import mask_safe, sum_to
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray
LN2, LN10 = math.log(2.0), math.log(10.0)

# Helpers for the rules (an ndarray in the fast backward, a recorded op on Tensors).
_cosh = R._unary(np.cosh, "cosh")
_sinh = R._unary(np.sinh, "sinh")
_floor = R._unary(np.floor, "floor")


class Arcsin(Unary):
    """arcsin x.  Derivative: 1/sqrt(1 - x^2), infinite at +-1."""

    name = "arcsin"
    unsafe = True
    fn = staticmethod(_quiet(np.arcsin))
    derivative = staticmethod(lambda x, y: 1 / R.sqrt(1 - x * x))


class Arccos(Unary):
    """arccos x.  Derivative: -1/sqrt(1 - x^2), infinite at +-1."""

    name = "arccos"
    unsafe = True
    fn = staticmethod(_quiet(np.arccos))
    derivative = staticmethod(lambda x, y: -1 / R.sqrt(1 - x * x))


class Arctan(Unary):
    """arctan x.  Derivative: 1/(1 + x^2)."""

    name = "arctan"
    fn = staticmethod(np.arctan)
    derivative = staticmethod(lambda x, y: 1 / (1 + x * x))


class Sinh(Unary):
    """sinh x.  Derivative: cosh x."""

    name = "sinh"
    fn = staticmethod(np.sinh)
    derivative = staticmethod(lambda x, y: _cosh(x))


class Cosh(Unary):
    """cosh x.  Derivative: sinh x."""

    name = "cosh"
    fn = staticmethod(np.cosh)
    derivative = staticmethod(lambda x, y: _sinh(x))


class Arcsinh(Unary):
    """arcsinh x.  Derivative: 1/sqrt(x^2 + 1)."""

    name = "arcsinh"
    fn = staticmethod(np.arcsinh)
    derivative = staticmethod(lambda x, y: 1 / R.sqrt(x * x + 1))


class Arccosh(Unary):
    """arccosh x.  Derivative: 1/sqrt(x^2 - 1), infinite at 1."""

    name = "arccosh"
    unsafe = True
    fn = staticmethod(_quiet(np.arccosh))
    derivative = staticmethod(lambda x, y: 1 / R.sqrt(x * x - 1))


class Arctanh(Unary):
    """arctanh x.  Derivative: 1/(1 - x^2), infinite at +-1."""

    name = "arctanh"
    unsafe = True
    fn = staticmethod(_quiet(np.arctanh))
    derivative = staticmethod(lambda x, y: 1 / (1 - x * x))


class Exp2(Unary):
    """2^x.  Derivative: 2^x ln 2."""

    name = "exp2"
    fn = staticmethod(np.exp2)
    derivative = staticmethod(lambda x, y: y * LN2)


class Expm1(Unary):
    """e^x - 1, accurate near 0.  Derivative: e^x = y + 1."""

    name = "expm1"
    fn = staticmethod(np.expm1)
    derivative = staticmethod(lambda x, y: y + 1)


class Log2(Unary):
    """log2 x.  Derivative: 1/(x ln 2)."""

    name = "log2"
    unsafe = True
    fn = staticmethod(_quiet(np.log2))
    derivative = staticmethod(lambda x, y: (1 / LN2) / x)


class Log10(Unary):
    """log10 x.  Derivative: 1/(x ln 10)."""

    name = "log10"
    unsafe = True
    fn = staticmethod(_quiet(np.log10))
    derivative = staticmethod(lambda x, y: (1 / LN10) / x)


class Square(Unary):
    """x^2.  Derivative: 2x."""

    name = "square"
    integers = True
    fn = staticmethod(np.square)
    derivative = staticmethod(lambda x, y: 2 * x)


class Reciprocal(Unary):
    """1/x.  Derivative: -1/x^2 = -y^2, infinite at 0."""

    name = "reciprocal"
    unsafe = True
    integers = True  # as NumPy: 1 // x for integers
    fn = staticmethod(_quiet(np.reciprocal))
    derivative = staticmethod(lambda x, y: -(y * y))


class Fabs(Abs):
    """|x| of floats.  Derivative: sign x (0 at 0)."""

    name = "fabs"
    integers = False
    fn = staticmethod(np.fabs)


class Deg2rad(Unary):
    """x * pi/180.  Derivative: pi/180."""

    name = "deg2rad"
    fn = staticmethod(np.deg2rad)
    derivative = staticmethod(lambda x, y: math.pi / 180)


class Rad2deg(Unary):
    """x * 180/pi.  Derivative: 180/pi."""

    name = "rad2deg"
    fn = staticmethod(np.rad2deg)
    derivative = staticmethod(lambda x, y: 180 / math.pi)


def _sinc_derivative(x: Any, y: Any) -> Any:
    """(cos(pi x) - sinc x)/x, by its Maclaurin series near 0 (exact to any order there)."""
    xv = R.value(x)
    small = np.abs(xv) < (1e-2 if xv.dtype == np.float64 else 0.1)
    if not small.any():
        return (R.cos(math.pi * x) - y) / x
    p2 = math.pi**2
    x2 = x * x
    series = x * (-p2 / 3 + x2 * (p2 * p2 / 30 - x2 * (p2 * p2 * p2 / 840)))
    safe = R.where(small, xv.dtype.type(1), x)
    return R.where(small, series, (R.cos(math.pi * safe) - y) / safe)


class Sinc(Unary):
    """sin(pi x)/(pi x), 1 at 0.  Derivative: (cos(pi x) - sinc x)/x, a series near 0."""

    name = "sinc"
    fn = staticmethod(np.sinc)
    derivative = staticmethod(_sinc_derivative)


class NanToNum(Function):
    """NaN and +-inf replaced by numbers.  Derivative: 1 where x is finite, 0 where replaced."""

    name = "nan_to_num"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, nan: float, posinf: Any, neginf: Any) -> NDArray:
        ctx.finite = np.isfinite(x)
        return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.where(ctx.finite, g, R.value(g).dtype.type(0))

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.where(ctx.finite, dx, R.value(dx).dtype.type(0))


class Binary(Function):
    """An elementwise op of two broadcast operands with ``partials(a, b, out)`` for both modes.

    ``unsafe`` marks partials that can be infinite or NaN: a zero cotangent then gives zero.
    """

    n_in = 2
    unsafe = False
    integers = False  # whether integer operands stay integers (else they become floats)
    name = "binary"

    @staticmethod
    def fn(a: NDArray, b: NDArray) -> NDArray:
        raise NotImplementedError

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        a, b = promote(cls.name, a, b)
        if not (cls.integers and a.dtype.kind in "iub"):
            a, b = to_float(a), to_float(b)
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = cls.fn(a, b)
        except ValueError:
            raise broadcast_error(cls.name, a, b) from None
        ctx.saved = (a, b, out)
        return out

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b, out = ctx.saved
        nb = ctx.batch
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pa, pb = cls.partials(a, b, out)
            if cls.unsafe:
                return sum_to(mask_safe(g, pa), a.shape, nb), sum_to(mask_safe(g, pb), b.shape, nb)
            return sum_to(g * pa, a.shape, nb), sum_to(g * pb, b.shape, nb)

    @classmethod
    def jvp(cls, ctx: Context, da: Any, db: Any) -> Any:
        a, b, out = ctx.saved
        da, db = lift(ctx, da, db)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pa, pb = cls.partials(a, b, out)
            if cls.unsafe:
                return mask_safe(da, pa) + mask_safe(db, pb)
            return da * pa + db * pb


class Arctan2(Binary):
    """arctan2(y, x), the angle of (x, y).  Partials: (x, -y)/(x^2 + y^2), undefined at 0."""

    name = "arctan2"
    unsafe = True
    fn = staticmethod(np.arctan2)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        r2 = a * a + b * b
        return b / r2, -a / r2


class Logaddexp(Binary):
    """log(e^a + e^b), computed stably.  Partials: e^(a - out), e^(b - out)."""

    name = "logaddexp"
    fn = staticmethod(np.logaddexp)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        return R.exp(a - out), R.exp(b - out)


class Logaddexp2(Binary):
    """log2(2^a + 2^b), computed stably.  Partials: 2^(a - out), 2^(b - out)."""

    name = "logaddexp2"
    fn = staticmethod(np.logaddexp2)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        return R.exp((a - out) * LN2), R.exp((b - out) * LN2)


class Mod(Binary):
    """a mod b with b's sign (np.mod, Python's %).  Partials: 1 and -floor(a/b), as JAX and
    PyTorch (undefined where a/b is a whole number)."""

    name = "mod"
    integers = True
    fn = staticmethod(np.mod)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        q = np.floor(R.value(a) / R.value(b))
        return q.dtype.type(1), -q


class FloorDivide(Binary):
    """floor(a / b) (np.floor_divide, Python's //).  Piecewise constant: partials 0 (as JAX)."""

    name = "floor_divide"
    integers = True
    fn = staticmethod(np.floor_divide)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        z = R.value(out).dtype.type(0)
        return z, z


class Hypot(Binary):
    """sqrt(a^2 + b^2), without overflow.  Partials: a/out, b/out, undefined at 0."""

    name = "hypot"
    unsafe = True
    fn = staticmethod(np.hypot)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        return a / out, b / out


class Fmax(Maximum):
    """Elementwise max ignoring NaN.  The gradient goes to the larger (or the non-NaN) input;
    ties split it evenly (as cr.maximum)."""

    name = "fmax"
    pick = staticmethod(np.fmax)


class Fmin(Maximum):
    """Elementwise min ignoring NaN.  The gradient goes to the smaller (or the non-NaN) input;
    ties split it evenly (as cr.minimum)."""

    name = "fmin"
    pick = staticmethod(np.fmin)


# ----- public functions -----
def _unary_fn(cls: Any) -> Any:
    def fn(x: Any) -> Tensor:
        return _apply1(cls, x if isinstance(x, Tensor) else as_operand(x))

    fn.__name__ = fn.__qualname__ = cls.name
    head, _, rest = (cls.__doc__ or "").partition("  ")
    fn.__doc__ = f"{head.rstrip('.')}, elementwise.  {rest}"
    return fn


def _binary_fn(cls: Any) -> Any:
    def fn(x1: Any, x2: Any) -> Tensor:
        return cls.apply(x1, x2)

    fn.__name__ = fn.__qualname__ = cls.name
    fn.__doc__ = cls.__doc__
    return fn


arcsin = _unary_fn(Arcsin)
arccos = _unary_fn(Arccos)
arctan = _unary_fn(Arctan)
sinh = _unary_fn(Sinh)
cosh = _unary_fn(Cosh)
arcsinh = _unary_fn(Arcsinh)
arccosh = _unary_fn(Arccosh)
arctanh = _unary_fn(Arctanh)
exp2 = _unary_fn(Exp2)
expm1 = _unary_fn(Expm1)
log2 = _unary_fn(Log2)
log10 = _unary_fn(Log10)
square = _unary_fn(Square)
reciprocal = _unary_fn(Reciprocal)
fabs = _unary_fn(Fabs)
sinc = _unary_fn(Sinc)
deg2rad = _unary_fn(Deg2rad)
rad2deg = _unary_fn(Rad2deg)
radians = deg2rad
degrees = rad2deg

arctan2 = _binary_fn(Arctan2)
logaddexp = _binary_fn(Logaddexp)
logaddexp2 = _binary_fn(Logaddexp2)
mod = _binary_fn(Mod)
remainder = mod
floor_divide = _binary_fn(FloorDivide)
hypot = _binary_fn(Hypot)
fmax = _binary_fn(Fmax)
fmin = _binary_fn(Fmin)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN -> nan, +inf -> posinf, -inf -> neginf (dtype's extremes by default), as NumPy.

    Derivative: 1 where x is finite, 0 at the replaced entries (as JAX).
    """
    return NanToNum.apply(x if isinstance(x, Tensor) else as_operand(x), nan, posinf, neginf)


def real(x: Any) -> Tensor:
    """The real part of a real tensor: x itself (complex dtypes are not supported)."""
    return x if isinstance(x, Tensor) else as_operand(x)


def imag(x: Any) -> Tensor:
    """The imaginary part of a real tensor: zeros of its shape, a constant (derivative 0)."""
    x = x if isinstance(x, Tensor) else as_operand(x)
    return Tensor._make(np.zeros_like(x._data), False, None)


def conj(x: Any) -> Tensor:
    """The complex conjugate of a real tensor: x itself."""
    return x if isinstance(x, Tensor) else as_operand(x)


conjugate = conj

