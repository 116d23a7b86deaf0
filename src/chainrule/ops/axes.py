"""Axis arguments: one check, one message (NumPy's AxisError, naming the op) for every op."""

from __future__ import annotations

from typing import Any

import numpy as np

AxisError = np.exceptions.AxisError


def check_axis(op: str, axis: Any, ndim: int) -> int:
    """axis as an index in [0, ndim), or AxisError naming op, the axis and the rank."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise AxisError(f"{op}: axis {a} is out of bounds for a tensor of {ndim} dimensions")
    return a % ndim


def check_axes(op: str, axes: Any, ndim: int) -> tuple[int, ...]:
    """Several axes, each checked, none repeated."""
    out = tuple(check_axis(op, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {tuple(axes)}")
    return out
