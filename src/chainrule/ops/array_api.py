"""NumPy 2's array-API names: concat, permute_dims, matrix_transpose, vecdot and
broadcast_arrays, over the differentiable shape and reduction ops."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.ops.axes import check_axis
from chainrule.ops.elementwise import multiply
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import broadcast_to, concatenate, swapaxes, transpose
from chainrule.ops.shape_more import moveaxis
from chainrule.tensor import Tensor, as_operand

concat = concatenate
permute_dims = transpose


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def matrix_transpose(x: Any) -> Tensor:
    """The last two axes swapped (np.matrix_transpose).  Derivative: the same swap."""
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: the input must be at least 2-D, got shape {x.shape}")
    return swapaxes(x, -1, -2)


def vecdot(x1: Any, x2: Any, axis: int = -1, *, keepdims: bool = False) -> Tensor:
    """sum(x1 * x2) along each input's axis, the other axes broadcast (np.vecdot of real
    inputs).  Derivative: the product's and the sum's rules."""
    a, b = _t(x1), _t(x2)
    sa, sb = a.shape, b.shape
    if not a.ndim or not b.ndim:
        raise ValueError(f"vecdot: the inputs must have at least one axis, got shapes {sa} "
                         f"and {sb}")
    if a.dtype.kind != "f" and b.dtype.kind != "f":  # no derivative: NumPy's own, its dtype
        return values(partial(np.vecdot, axis=axis, keepdims=keepdims), a, b)
    a = moveaxis(a, check_axis("vecdot", axis, a.ndim), -1)
    b = moveaxis(b, check_axis("vecdot", axis, b.ndim), -1)
    if a.shape[-1] != b.shape[-1]:  # NumPy's core dimension: equal lengths, not broadcast
        raise ValueError(f"vecdot: the inputs' lengths along axis {axis} differ "
                         f"({a.shape[-1]} and {b.shape[-1]})")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"vecdot: shapes {sa} and {sb} cannot be broadcast together "
                         f"along axis {axis}") from None
    out = _sum(multiply(a, b), axis=-1, keepdims=keepdims)
    return moveaxis(out, -1, axis) if keepdims else out


def broadcast_arrays(*args: Any) -> tuple[Tensor, ...]:
    """The inputs broadcast to their common shape (np.broadcast_arrays).  Derivative: each
    broadcast's (sums back)."""
    ts = [_t(a) for a in args]
    try:
        shape = np.broadcast_shapes(*(t.shape for t in ts))
    except ValueError:
        shapes = " and ".join(str(t.shape) for t in ts)
        raise ValueError(f"broadcast_arrays: shapes {shapes} cannot be broadcast "
                         "together") from None
    return tuple(t if t.shape == shape else broadcast_to(t, shape) for t in ts)
