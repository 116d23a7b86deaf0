"""NumPy's whole-array comparisons: isclose and isin (bool Tensors outside the graph), allclose
and array_equal (Python bools, as NumPy)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.backend import like, on_device
from chainrule.tensor import Tensor


def on_one_device(*operands: Any) -> list[Any]:
    """The operands, Tensors kept (cr.compile replays on their new values); host operands
    (arrays, lists, numbers) join a CUDA tensor's device."""
    arrays = [a._data if isinstance(a, Tensor) else a for a in operands]
    dev = next((a for a in arrays if on_device(a)), None)
    if dev is None:
        return list(operands)
    return [a if isinstance(a, Tensor) else like(np.asarray(a), dev) for a in operands]


def _shapes(*operands: Any) -> str:
    return " and ".join(str(np.shape(a._data if isinstance(a, Tensor) else a)) for a in operands)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol |b| elementwise, as np.isclose: a bool Tensor, no graph."""
    fn = partial(np.isclose, rtol=rtol, atol=atol, equal_nan=equal_nan)
    try:
        return values(fn, *on_one_device(a, b))
    except ValueError as e:
        raise ValueError(f"isclose: {e} (operand shapes {_shapes(a, b)})") from None


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether every entry of a and b is close (np.allclose): a Python bool."""
    return bool(isclose(a, b, rtol, atol, equal_nan)._data.all())


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """Whether a1 and a2 have the same shape and entries (np.array_equal): a Python bool."""
    x, y = (a._data if isinstance(a, Tensor) else a for a in on_one_device(a1, a2))
    if np.shape(x) != np.shape(y):
        return False
    if on_device(x) or on_device(y):
        eq = x == y
        if equal_nan:
            eq = eq | (x != x) & (y != y)
        return bool(eq.all())
    return bool(np.array_equal(x, y, equal_nan=equal_nan))


def isin(element: Any, test_elements: Any, assume_unique: bool = False, invert: bool = False,
         *, kind: str | None = None) -> Tensor:
    """Whether each entry of element is in test_elements (np.isin): a bool Tensor of element's
    shape, no graph."""
    fn = partial(np.isin, assume_unique=assume_unique, invert=invert, kind=kind)
    return values(fn, *on_one_device(element, test_elements))


COMPARISONS = ("allclose", "array_equal", "isclose", "isin")
