"""The regularized incomplete gamma and beta functions and Student's t CDF, differentiable in x.

Values from SciPy. The shape parameters are constants (no derivative: SciPy's functions have no
closed form for it, and JAX's betainc and HIPS autograd give none either); the derivative in x
is the integrand: d/dx P(a, x) = exp(-x) x^(a-1) / Gamma(a), d/dx I_x(a, b) = x^(a-1)
(1-x)^(b-1) / B(a, b), d/dt stdtr(df, t) = the t density.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.ops import rules as R
from chainrule.scipy._kernels import gammaln_array
from chainrule.scipy._param import ParamUnary
from chainrule.scipy._util import scipy_module

NDArray = np.ndarray
_HALF_LOG_PI = 0.5 * math.log(math.pi)


def _xlogy(a: NDArray, x: Any) -> Any:
    """a log x, with 0 where a = 0 (so that x = 0 at a = 1 gives x^0 = 1)."""
    return R.where(a == 0, a.dtype.type(0), a * R.log(x))


class GammaInc(ParamUnary):
    """P(a, x), the regularized lower incomplete gamma.  Derivative: exp(-x) x^(a-1) / Gamma(a)."""

    name = "gammainc"
    sign = 1.0

    @classmethod
    def fn(cls, x: NDArray, a: NDArray) -> NDArray:  # type: ignore[override]
        return scipy_module("special").gammainc(a, x)

    @classmethod
    def derivative(cls, x: Any, y: Any, a: NDArray) -> Any:  # type: ignore[override]
        return cls.sign * R.exp(_xlogy(a - 1, x) - x - gammaln_array(a))


class GammaIncc(GammaInc):
    """Q(a, x) = 1 - P(a, x).  Derivative: -exp(-x) x^(a-1) / Gamma(a)."""

    name = "gammaincc"
    sign = -1.0

    @classmethod
    def fn(cls, x: NDArray, a: NDArray) -> NDArray:  # type: ignore[override]
        return scipy_module("special").gammaincc(a, x)


class BetaInc(ParamUnary):
    """I_x(a, b), the regularized incomplete beta.  Derivative: x^(a-1) (1-x)^(b-1) / B(a, b)."""

    name = "betainc"

    @staticmethod
    def fn(x: NDArray, a: NDArray, b: NDArray) -> NDArray:  # type: ignore[override]
        return scipy_module("special").betainc(a, b, x)

    @staticmethod
    def derivative(x: Any, y: Any, a: NDArray, b: NDArray) -> Any:  # type: ignore[override]
        log_b = gammaln_array(a) + gammaln_array(b) - gammaln_array(a + b)
        return R.exp(_xlogy(a - 1, x) + _xlogy(b - 1, 1 - x) - log_b)


class Stdtr(ParamUnary):
    """Student's t CDF with df degrees of freedom.  Derivative: the density
    exp(gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - (df+1)/2 log(1 + t^2/df))."""

    name = "stdtr"

    @staticmethod
    def fn(x: NDArray, df: NDArray) -> NDArray:  # type: ignore[override]
        return scipy_module("special").stdtr(df, x)

    @staticmethod
    def derivative(x: Any, y: Any, df: NDArray) -> Any:  # type: ignore[override]
        log_c = (gammaln_array(0.5 * (df + 1)) - gammaln_array(0.5 * df) - 0.5 * np.log(df)
                 - _HALF_LOG_PI)
        return R.exp(log_c - 0.5 * (df + 1) * R.log(1 + x * x / df))
