"""norm: NumPy's vector and matrix norms, composed from reductions and svd."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.dtypes import float_dtype
from chainrule.linalg.decomp import svd
from chainrule.ops.linalg import _tensors
from chainrule.tensor import Tensor


def _l2(x: Tensor, axis: tuple[int, ...]) -> Tensor:
    """sqrt(sum(x^2)) over axis, with gradient 0 (a subgradient, as PyTorch's) at x = 0."""
    s = ops.sum(x * x, axis=axis)
    zero = s == 0  # a Tensor mask, no branch on values: cr.compile replays it
    return ops.where(zero, 0.0, ops.sqrt(ops.where(zero, 1.0, s)))


def _vector_norm(x: Tensor, ord: Any, axis: tuple[int, ...]) -> Tensor:
    if ord is None or ord == 2:
        return _l2(x, axis)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        return ops.max(ops.abs(x), axis=axis)
    if ord == -np.inf:
        return ops.min(ops.abs(x), axis=axis)
    if ord == 0:  # the count of nonzeros: no gradient
        count = B.asarray((x._data != 0).sum(axis=axis)).astype(x.dtype)
        return Tensor._make(count, False, None)
    if ord == 1:
        return ops.sum(ops.abs(x), axis=axis)
    return ops.sum(ops.abs(x) ** ord, axis=axis) ** (1.0 / ord)


def _matrix_norm(x: Tensor, ord: Any, row: int, col: int) -> Tensor:
    if ord in (None, "fro", "f"):
        return _l2(x, (row, col))
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(x.ndim) if i not in (row, col)]
        s = svd(ops.transpose(x, (*rest, row, col)), compute_uv=False)
        if ord == "nuc":
            return ops.sum(s, axis=-1)
        return ops.max(s, axis=-1) if ord == 2 else ops.min(s, axis=-1)
    if ord in (1, -1):
        reduce = ops.max if ord == 1 else ops.min
        return reduce(ops.sum(ops.abs(x), axis=row), axis=col - (col > row))
    if ord in (np.inf, -np.inf):
        reduce = ops.max if ord == np.inf else ops.min
        return reduce(ops.sum(ops.abs(x), axis=col), axis=row - (row > col))
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Vector or matrix norm, as np.linalg.norm: ``axis`` None (the whole array: 2-norm for
    ord None, else a vector or matrix norm by ndim), an int (vectors) or a pair (matrices).

    Rules follow the compositions: |x|-based ords use abs' (sign), ord=2 and 'nuc' use the
    singular-value rules, max/min ords pass the gradient to the extreme entry.
    """
    (x,) = _tensors(x)
    if x.dtype.kind != "f":  # as NumPy, norms of integers and bools are floats (the default)
        x = ops.astype(x, float_dtype(x.dtype))
    nd = x.ndim
    if axis is None:
        if ord is None:
            out = _l2(x, tuple(range(nd)))
            return out.reshape((1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(f"norm: improper number of dimensions {nd} for ord={ord!r}")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(a) + nd if a < 0 else int(a) for a in axes)
    if any(not 0 <= a < nd for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"norm: axis {axis} is invalid for an array of {nd} dimensions")
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes)
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, *axes)
    else:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis}")
    return ops.expand_dims(out, tuple(sorted(axes))) if keepdims else out
