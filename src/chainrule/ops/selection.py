"""Choosing entries by condition: nonzero (and one-argument where), argwhere, select."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor


def _raw(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else B.asarray(x)


def nonzero(a: Any) -> tuple[Tensor, ...]:
    """One int64 tensor of indices per axis, where a is non-zero (not differentiable)."""
    a = _raw(a)
    if a.ndim == 0:
        raise ValueError("nonzero: a 0-d tensor has no indices (use atleast_1d first)")
    return tuple(Tensor._make(i.astype(np.int64), False, None) for i in np.nonzero(a))


def argwhere(a: Any) -> Tensor:
    """The (n, ndim) int64 indices of the non-zero entries (not differentiable)."""
    return Tensor._make(np.argwhere(_raw(a)).astype(np.int64), False, None)


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Tensor:
    """choicelist[i] where condlist[i] first holds, else default (as np.select); gradients go
    to the chosen entries only."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError("select: list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")
    floats = [_raw(c).dtype for c in choicelist if _raw(c).dtype.kind == "f"]
    out = np.asarray(default, floats[0]) if floats and np.ndim(default) == 0 else default
    # array constants go to the device of the Tensor operands (as an op's constants do)
    ref = next((x._data for x in (*condlist, *choicelist) if isinstance(x, Tensor)), None)
    choicelist = [x if isinstance(x, Tensor) else B.like(_raw(x), ref) for x in choicelist]
    if not isinstance(out, Tensor | int | float | complex):  # Python numbers stay weakly typed
        out = B.like(_raw(out), ref)
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        c = B.like(_raw(cond), ref)
        if c.dtype != np.bool_:
            raise TypeError(f"select: invalid entry in condlist: should be boolean, got {c.dtype}")
        out = where(c, choice, out)
    if not isinstance(out, Tensor):
        out = Tensor(B.asarray(out))
    return out
