"""NumPy's remaining elementwise functions: cbrt, copysign, fmod, float_power, heaviside and
positive."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops import rules as R
from chainrule.ops.elementwise import Unary, astype, power
from chainrule.ops.elementwise_more import Binary, _binary_fn, _unary_fn
from chainrule.ops.shape import clone
from chainrule.tensor import Tensor, as_operand


class Cbrt(Unary):
    """The real cube root of x.  Derivative: 1/(3 cbrt(x)^2), infinite at 0."""

    name = "cbrt"
    unsafe = True
    fn = staticmethod(np.cbrt)
    derivative = staticmethod(lambda x, y: (1 / 3) / (y * y))


class Copysign(Binary):
    """|a| with the sign of b.  Partials: sign(a) sign(b) in a (undefined at a = 0), 0 in b
    (as PyTorch)."""

    name = "copysign"
    fn = staticmethod(np.copysign)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        av, bv = R.value(a), R.value(b)
        one = av.dtype.type(1)
        return np.copysign(one, av) * np.copysign(one, bv), av.dtype.type(0)


class Fmod(Binary):
    """The C remainder of a / b, with a's sign (np.fmod).  Partials: 1 and -trunc(a/b), as
    PyTorch (undefined where a/b is a whole number)."""

    name = "fmod"
    integers = True
    fn = staticmethod(np.fmod)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        q = np.trunc(R.value(a) / R.value(b))
        return q.dtype.type(1), -q


class Heaviside(Binary):
    """The step function: 0 where a < 0, b where a == 0, 1 where a > 0 (np.heaviside).
    Partials: 0 in a (undefined at 0), and in b 1 where a == 0, else 0 (as JAX)."""

    name = "heaviside"
    fn = staticmethod(np.heaviside)

    @staticmethod
    def partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        av = R.value(a)
        return av.dtype.type(0), (av == 0).astype(av.dtype)


copysign = _binary_fn(Copysign)
heaviside = _binary_fn(Heaviside)
fmod = _binary_fn(Fmod)
cbrt = _unary_fn(Cbrt)


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def float_power(x1: Any, x2: Any) -> Tensor:
    """x1 ** x2 computed in float64 whatever the inputs' dtypes, as np.float_power.

    Derivative: power's, through the (differentiable) cast of float inputs to float64.
    """
    return power(astype(_t(x1), np.float64), astype(_t(x2), np.float64))


def positive(x: Any) -> Tensor:
    """+x, a copy (np.positive).  Derivative: 1.  Bools are refused, as NumPy."""
    x = _t(x)
    if x.dtype == np.bool_:
        raise TypeError("positive: not defined for bool tensors (as np.positive)")
    return clone(x)
