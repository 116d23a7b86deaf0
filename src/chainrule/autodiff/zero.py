"""ZERO: the tangent of an input that has none, absorbed by the linear rules without allocating."""

from __future__ import annotations

from typing import Any


class _Zero:
    """A symbolic zero tangent: x + ZERO is x, ZERO * x is ZERO, and so on."""

    __slots__ = ()
    __array_ufunc__ = None  # make NumPy defer to the reflected operators below

    def __repr__(self) -> str:
        return "ZERO"

    def __bool__(self) -> bool:
        return False

    def __add__(self, other: Any) -> Any:
        return other

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return ZERO if other is ZERO else -other

    def __rsub__(self, other: Any) -> Any:
        return other

    def _zero(self, *_: Any) -> _Zero:
        return ZERO

    __mul__ = __rmul__ = __truediv__ = __matmul__ = __rmatmul__ = __neg__ = _zero
    __getitem__ = _zero


ZERO = _Zero()
