"""Rounding: floor, ceil, trunc (fix), rint and round (around), piecewise-constant ops whose
derivative is 0 everywhere, as JAX's (undefined at the jumps)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, values
from chainrule.ops import rules as R
from chainrule.ops.elementwise import Unary
from chainrule.ops.elementwise_more import _unary_fn
from chainrule.tensor import Tensor, as_operand


class Step(Unary):
    """A piecewise-constant op.  Derivative: 0 everywhere, as JAX (not undefined at the jumps)."""

    integers = True

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> Any:
        return R.zeros(g.shape, g)

    @classmethod
    def jvp(cls, ctx: Context, dx: Any) -> Any:
        return R.zeros(dx.shape, dx)


class Floor(Step):
    """floor x.  Derivative: 0 (JAX's choice; undefined at integers)."""

    name = "floor"
    fn = staticmethod(np.floor)


class Ceil(Step):
    """ceil x.  Derivative: 0 (JAX's choice; undefined at integers)."""

    name = "ceil"
    fn = staticmethod(np.ceil)


class Trunc(Step):
    """trunc x, toward zero.  Derivative: 0 (JAX's choice; undefined at integers)."""

    name = "trunc"
    fn = staticmethod(np.trunc)


class Rint(Step):
    """rint x, to the nearest integer, halves to even.  Derivative: 0 (undefined at the
    halves)."""

    name = "rint"
    integers = False  # NumPy's rint of integers is float64: here, the default float dtype
    fn = staticmethod(np.rint)


floor = _unary_fn(Floor)
ceil = _unary_fn(Ceil)
trunc = _unary_fn(Trunc)
fix = trunc
rint = _unary_fn(Rint)


def round(x: Any, decimals: int = 0) -> Tensor:
    """x rounded to decimals places, halves to even, as np.round computes it (rint of x times
    10**decimals, divided back: the same bits). Derivative 0. Integers stay integers."""
    x = x if isinstance(x, Tensor) else as_operand(x)
    if x._data.dtype.kind != "f":  # no derivative to keep: NumPy's own, in the same dtype
        return values(partial(np.round, decimals=decimals), x)
    if decimals == 0:
        return rint(x)
    if decimals > 0:
        f = 10.0 ** decimals
        return rint(x * f) / f
    f = 10.0 ** -decimals
    return rint(x / f) * f


around = round
