"""Matrix helpers the linalg rules are written with: each works on ndarrays, Tensors and ZERO.

They extend chainrule.ops.rules with what matrix rules need (solves, inverses, diagonals,
triangles, packing several outputs into one array), batched over leading axes throughout.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.zero import ZERO
from chainrule.ops import rules as R
from chainrule.tensor import Tensor

mT = R.mT
matmul = R.matmul
value = R.value


def _is_tensor(*xs: Any) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


def inv(x: Any) -> Any:
    """Batched matrix inverse (a recorded op on Tensors)."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        from chainrule.linalg.inverse import Inv

        return Inv.apply(x)
    return np.linalg.inv(x)


def solve(a: Any, b: Any) -> Any:
    """a^{-1} b for a stack of matrices b (ndim >= 2), broadcast over leading axes."""
    if b is ZERO:
        return ZERO
    if _is_tensor(a, b):
        from chainrule.linalg.inverse import Solve

        return Solve.apply(a, b)
    return np.linalg.solve(a, b)


def solve_right(b: Any, a: Any) -> Any:
    """b a^{-1}, as (a^{-T} b^T)^T."""
    return mT(solve(mT(a), mT(b)))


def eye(n: int, like: Any) -> np.ndarray:
    """The n x n identity in like's dtype."""
    v = value(like)
    return B.namespace(v).eye(n, dtype=v.dtype)


def diag_part(x: Any) -> Any:
    """The diagonal of the trailing square matrices: (..., n, n) -> (..., n)."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        return R.sum(x * eye(x.shape[-1], x), axis=-1)
    return np.diagonal(x, axis1=-2, axis2=-1).copy()


def diag_embed(v: Any) -> Any:
    """Diagonal matrices from the trailing vectors: (..., n) -> (..., n, n)."""
    if v is ZERO:
        return ZERO
    return R.expand_dims(v, (-1,)) * eye(v.shape[-1], v)


def sym(x: Any) -> Any:
    """The symmetric part (x + x^T) / 2."""
    if x is ZERO:
        return ZERO
    return (x + mT(x)) * 0.5


def tri_mask(shape: tuple[int, int], k: int, lower: bool, like: Any) -> np.ndarray:
    """A 0/1 matrix selecting tril(., k) (lower) or triu(., k), in like's dtype."""
    v = value(like)
    ones = B.namespace(v).ones(shape, dtype=v.dtype)
    return np.tril(ones, k) if lower else np.triu(ones, k)


def tril(x: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal k) of the trailing matrices."""
    if x is ZERO:
        return ZERO
    return x * tri_mask(x.shape[-2:], k, True, x)


def triu(x: Any, k: int = 0) -> Any:
    """The upper triangle (on and above diagonal k) of the trailing matrices."""
    if x is ZERO:
        return ZERO
    return x * tri_mask(x.shape[-2:], k, False, x)


def safe_reciprocal(x: Any) -> Any:
    """1/x where x != 0, and 0 where x == 0 (no Inf or NaN, in any order of derivative)."""
    zero = value(x) == 0
    if not zero.any():
        return 1 / x
    return R.where(zero, 0.0, 1 / R.where(zero, 1.0, x))


def gap_reciprocal(w: Any, squared: bool = False) -> Any:
    """F[i, j] = 1 / (w_j - w_i) (or 1 / (w_j^2 - w_i^2)), 0 where the two are equal."""
    if squared:
        w = w * w
    diff = R.expand_dims(w, (-2,)) - R.expand_dims(w, (-1,))
    return safe_reciprocal(diff)


def cat(parts: list[Any], axis: int = -1) -> Any:
    """Concatenate ndarrays or Tensors along an axis."""
    if _is_tensor(*parts):
        from chainrule.ops.shape import concatenate

        return concatenate(parts, axis)
    return np.concatenate(parts, axis)


def pack(parts: list[Any], shapes: list[tuple[int, ...]]) -> Any:
    """Several outputs of trailing shapes ``shapes`` as one array (..., sum of their sizes).

    Multi-output ops (eigh, svd, qr) return one packed array, so that saving their output
    keeps the rules differentiable; ZERO parts become zeros.
    """
    live = [(p, s) for p, s in zip(parts, shapes, strict=True) if p is not ZERO]
    if not live:
        return ZERO
    lead = np.broadcast_shapes(*(p.shape[: p.ndim - len(s)] for p, s in live))
    like = live[0][0]
    flat = []
    for p, s in zip(parts, shapes, strict=True):
        if p is ZERO:
            p = R.zeros(lead + s, like)
        elif p.shape[: p.ndim - len(s)] != lead:
            p = R.broadcast_to(p, lead + s)
        flat.append(R.reshape(p, (*lead, math.prod(s))))
    return cat(flat, -1)


def unpack(x: Any, shapes: list[tuple[int, ...]]) -> list[Any]:
    """The parts of a packed array (the inverse of ``pack``)."""
    if x is ZERO:
        return [ZERO] * len(shapes)
    lead = x.shape[:-1]
    out, start = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append(R.reshape(x[..., start:start + size], lead + s))
        start += size
    return out
