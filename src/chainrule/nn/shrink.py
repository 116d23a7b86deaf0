"""Shrinkage activations: Hardshrink and Softshrink (PyTorch's values and gradients)."""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.nn.module import Module
from chainrule.tensor import Tensor, as_operand

__all__ = ["Hardshrink", "Softshrink", "hardshrink", "softshrink"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def hardshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """0 where -lambd <= x <= lambd, else x; gradient 0 and 1 likewise (0 at |x| = lambd)."""
    x = _t(input)
    # Tensor masks, not ndarrays: cr.compile replays them on new values
    return ops.where((x >= -lambd) & (x <= lambd), x.dtype.type(0), x)


def softshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0)."""
    if not lambd >= 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    x = _t(input)
    # x * 0 in the middle, as PyTorch's kernel: a NaN stays NaN, -0.3 gives -0.0 (clipped
    # first, so that an infinite x, which takes an outer branch, makes no NaN on the way)
    middle = ops.clip(x, -lambd, lambd) * 0
    return ops.where(x > lambd, x - lambd, ops.where(x < -lambd, x + lambd, middle))


class Hardshrink(Module):
    """0 where -lambd <= x <= lambd, else x."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """x moved lambd towards 0, and 0 where |x| <= lambd."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"
