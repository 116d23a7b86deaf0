"""NumPy's further products: tensordot, inner, kron, cross.  Composed from matmul, reshape,
transpose, indexing and the elementwise ops, so both AD modes and every order come with them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.ops.axes import check_axis
from chainrule.ops.indexing import getitem
from chainrule.ops.linalg import matmul
from chainrule.ops.shape import reshape, stack, transpose
from chainrule.ops.shape_more import moveaxis
from chainrule.tensor import Tensor, as_operand


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def tensordot(a: Any, b: Any, axes: Any = 2, *, dims: Any = None) -> Tensor:
    """Sum of products over a's axes[0] and b's axes[1] (the last / first n when an int), as
    np.tensordot: one matrix product after moving the summed axes together."""
    a, b = _t(a), _t(b)
    axes = axes if dims is None else dims
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: cannot sum over {n} axes of shapes {a.shape} and "
                             f"{b.shape}")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int | np.integer) else list(x) for x in axes)
    ax_a = [check_axis("tensordot", x, a.ndim) for x in ax_a]
    ax_b = [check_axis("tensordot", x, b.ndim) for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape mismatch for sum: axes {ax_a} of {a.shape} and "
                         f"{ax_b} of {b.shape}")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    k = math.prod(a.shape[i] for i in ax_a)
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    am = reshape(transpose(a, free_a + ax_a), (-1, k))
    bm = reshape(transpose(b, ax_b + free_b), (k, -1))
    return reshape(matmul(am, bm), out_shape)


def inner(a: Any, b: Any) -> Tensor:
    """Sum of products over the last axes of a and b (a scalar operand multiplies), as np.inner."""
    a, b = _t(a), _t(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: last dimensions of {a.shape} and {b.shape} differ")
    return tensordot(a, b, ([-1], [-1]))


def kron(a: Any, b: Any) -> Tensor:
    """The Kronecker product: blocks a[i] * b, as np.kron."""
    a, b = _t(a), _t(b)
    nd = max(a.ndim, b.ndim)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    ai = reshape(a, tuple(d for n in sa for d in (n, 1)))
    bi = reshape(b, tuple(d for n in sb for d in (1, n)))
    return reshape(ai * bi, tuple(m * n for m, n in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along the given axes, broadcast over the others, as
    np.cross (2-vectors give the z component)."""
    a, b = _t(a), _t(b)
    if dim is not None:
        axis = dim
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, check_axis("cross", axisa, a.ndim), -1)
    b = moveaxis(b, check_axis("cross", axisb, b.ndim), -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must be "
                         f"2 or 3), got {na} and {nb}")

    def comp(x: Tensor, i: int) -> Any:
        return getitem(x, (Ellipsis, i)) if i < x.shape[-1] else x.dtype.type(0)

    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, check_axis("cross", axisc, c.ndim))
