"""Bessel functions of real order v, as one op per family, differentiable in x (values: SciPy).

Families: "j" (J_v: j0, j1, jv/jn), "y" (Y_v: y0, y1, yn, yv), "i" (I_v: i0, i1, iv) and "ie"
(exp(-|x|) I_v: i0e, i1e, ive). The derivative is the recurrence, the op itself at v -/+ 1:
J' = (J_{v-1} - J_{v+1})/2, Y' likewise, I' = (I_{v-1} + I_{v+1})/2, and for the scaled
family ive' = (ive_{v-1} + ive_{v+1})/2 - sign(x) ive_v. The order carries no derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops import rules as R
from chainrule.scipy._param import ParamUnary, apply
from chainrule.scipy._util import scipy_module

NDArray = np.ndarray

# family -> (SciPy's function of order 0, of order 1, of whole order n, of real order v)
_NAMES = {"j": ("j0", "j1", "jv", "jv"), "y": ("y0", "y1", "yn", "yv"),
          "i": ("i0", "i1", "iv", "iv"), "ie": ("i0e", "i1e", "ive", "ive")}


def bessel_array(family: str, v: NDArray, x: NDArray) -> NDArray:
    """SciPy's value, through its dedicated order-0 and order-1 kernels where v is 0 or 1."""
    s = scipy_module("special")
    f0, f1, fn, fv = _NAMES[family]
    if v.ndim == 0 and v in (0.0, 1.0):
        return getattr(s, f0 if v == 0 else f1)(x)
    if np.all(v == np.round(v)):
        n = v.astype(np.int64) if family == "y" else v
        return getattr(s, fn)(n, x)
    return getattr(s, fv)(v, x)


class Bessel(ParamUnary):
    """B_v(x) for one family of Bessel functions.  Derivative: the recurrence at v -/+ 1."""

    name = "bessel"
    family = ""

    @classmethod
    def fn(cls, x: NDArray, v: NDArray) -> NDArray:  # type: ignore[override]
        return bessel_array(cls.family, v, x)

    @classmethod
    def derivative(cls, x: Any, y: Any, v: NDArray) -> Any:  # type: ignore[override]
        lo, hi = apply(cls, x, v - 1), apply(cls, x, v + 1)
        if cls.family in ("j", "y"):
            return 0.5 * (lo - hi)
        if cls.family == "i":
            return 0.5 * (lo + hi)
        return 0.5 * (lo + hi) - R.sign(x) * y


class BesselJ(Bessel):
    """J_v(x), the Bessel function of the first kind.  Derivative: (J_{v-1} - J_{v+1})/2."""

    name, family = "jv", "j"


class BesselY(Bessel):
    """Y_v(x), the Bessel function of the second kind.  Derivative: (Y_{v-1} - Y_{v+1})/2."""

    name, family = "yv", "y"


class BesselI(Bessel):
    """I_v(x), modified, of the first kind.  Derivative: (I_{v-1} + I_{v+1})/2."""

    name, family = "iv", "i"


class BesselIE(Bessel):
    """exp(-|x|) I_v(x).  Derivative: (ive_{v-1} + ive_{v+1})/2 - sign(x) ive_v."""

    name, family = "ive", "ie"


FAMILIES = {"j": BesselJ, "y": BesselY, "i": BesselI, "ie": BesselIE}
