"""Helpers the rules are written with: each works on ndarrays, Tensors (recorded) and ZERO.

A rule calls these instead of NumPy so that one rule serves a fast first-order backward
(ndarrays), a differentiable backward (Tensors) and batched tangents (leading axes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.zero import ZERO
from chainrule.tensor import Tensor


def sum_to(x: Any, shape: tuple[int, ...], nb: int = 0) -> Any:
    """Sum x (``nb`` batch axes + a broadcast of ``shape``) back to batch axes + ``shape``."""
    if x is ZERO:
        return ZERO
    xs = x.shape
    if xs == shape if not nb else xs[nb:] == shape:
        return x
    lead = len(xs) - nb - len(shape)
    axes = tuple(range(nb, nb + lead)) + tuple(
        nb + lead + i for i, n in enumerate(shape) if n == 1 and xs[nb + lead + i] != 1
    )
    if isinstance(x, Tensor):
        from chainrule.ops.reduction import sum as _sum

        r = _sum(x, axis=axes, keepdims=True) if axes else x
        return r.reshape(xs[:nb] + shape)
    r = x.sum(axis=axes, keepdims=True) if axes else x
    return r.reshape(xs[:nb] + shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast x to shape (a view for ndarrays)."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        from chainrule.ops.shape import broadcast_to_batched

        return broadcast_to_batched(x, shape)
    return np.broadcast_to(x, shape)


def _unary(np_fn: Any, name: str) -> Any:
    def helper(x: Any) -> Any:
        if isinstance(x, Tensor):
            from chainrule import ops

            return getattr(ops, name)(x)
        return np_fn(x)

    helper.__name__ = name
    helper.__doc__ = f"{name} of an ndarray or a Tensor."
    return helper


exp = _unary(np.exp, "exp")
log = _unary(np.log, "log")
sin = _unary(np.sin, "sin")
cos = _unary(np.cos, "cos")
tanh = _unary(np.tanh, "tanh")
sqrt = _unary(np.sqrt, "sqrt")
sign = _unary(np.sign, "sign")
abs = _unary(np.abs, "abs")


def sigmoid(x: Any) -> Any:
    """Logistic function of an ndarray or a Tensor."""
    if isinstance(x, Tensor):
        from chainrule import ops

        return ops.sigmoid(x)
    from chainrule.ops.elementwise import _sigmoid

    return _sigmoid(x)


def value(x: Any) -> np.ndarray:
    """The ndarray behind x (no gradient flows through what is computed from it)."""
    return x._data if isinstance(x, Tensor) else x


def where(c: Any, a: Any, b: Any) -> Any:
    """Elementwise choice; a ZERO branch counts as 0."""
    if a is ZERO and b is ZERO:
        return ZERO
    c = value(c)
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from chainrule.ops.elementwise import where as _where

        return _where(c, 0.0 if a is ZERO else a, 0.0 if b is ZERO else b)
    a = 0.0 if a is ZERO else a
    b = 0.0 if b is ZERO else b
    r = np.where(c, a, b)
    like = a if isinstance(a, np.ndarray | np.generic) else b
    return r.astype(like.dtype, copy=False) if isinstance(like, np.ndarray | np.generic) else r


def mask_safe(g: Any, d: Any) -> Any:
    """g * d with exact zeros where g is zero, even where d is infinite or NaN."""
    if g is ZERO:
        return ZERO
    if isinstance(g, Tensor) or isinstance(d, Tensor):
        gz = value(g) == 0
        return g * where(gz, value(d).dtype.type(0), d)
    with np.errstate(invalid="ignore", over="ignore"):
        r = g * d
    if not np.isfinite(r).all():
        r = np.where(g == 0, r.dtype.type(0), r)
    return r


def matmul(a: Any, b: Any) -> Any:
    """a @ b, batched over leading axes; a batch against a matrix runs as one matrix product."""
    if a is ZERO or b is ZERO:
        return ZERO
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a @ b
    if a.ndim == 2 and b.ndim > 2:
        n, p = b.shape[-2:]
        if p == 1:  # columns (a vector's batch): rows @ a.T is the result in row-major order
            rows = math.prod(b.shape[:-2])  # not -1: ambiguous for a zero-size b
            return (b.reshape(rows, n) @ a.T).reshape(*b.shape[:-2], a.shape[0], 1)
        # a @ b[i] for all i at once: (m, n) @ (n, batch*p), not one small product per i
        folded = np.moveaxis(b, -2, 0).reshape(n, math.prod(b.shape[:-2]) * p)
        return np.moveaxis((a @ folded).reshape(a.shape[0], *b.shape[:-2], p), 0, -2)
    if b.ndim == 2 and a.ndim > 2:
        rows = math.prod(a.shape[:-1])
        return (a.reshape(rows, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
    return a @ b


def matmul_t(g: Any, b: Any, out: np.ndarray | None = None) -> Any:
    """g @ mT(b) (matmul's rules), into out when given (2-D ndarrays only).

    OpenBLAS multiplies by a transposed right factor up to 2x slower when that factor is the
    large one. For 2-D ndarrays with a short g (<= 32 rows) against a b of 4 times as many rows,
    b @ g.T transposed into place (C-contiguous) is faster (32x512 by 512x128: 55 against 73 us;
    8x512 by 512x512: 90 against 177) and gave the same bits in every shape measured. The eager
    rules and the compiled replay both call this, so they agree whichever way it goes.
    """
    if type(g) is not np.ndarray or type(b) is not np.ndarray or g.ndim != 2 or b.ndim != 2:
        return matmul(g, mT(b))
    m, k = g.shape[0], b.shape[0]
    if m <= 32 and k >= 4 * m and m * k >= 4096:
        t = np.matmul(b, g.T)
        if out is None:
            return np.ascontiguousarray(t.T)
        np.copyto(out, t.T)
        return out
    return g @ b.T if out is None else np.matmul(g, b.T, out=out)


def mT(x: Any) -> Any:
    """Swap the last two axes."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        from chainrule.ops.shape import swapaxes

        return swapaxes(x, -1, -2)
    return x.swapaxes(-1, -2)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Sum over axes (negative axes leave leading batch axes alone)."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        from chainrule.ops.reduction import sum as _sum

        return _sum(x, axis=axis, keepdims=keepdims)
    return x.sum(axis=axis, keepdims=keepdims)


def reshape(x: Any, shape: tuple[int, ...]) -> Any:
    """Reshape (a view where NumPy can)."""
    if x is ZERO:
        return ZERO
    return x.reshape(shape)


def expand_dims(x: Any, axes: tuple[int, ...]) -> Any:
    """Insert length-1 axes at the given (negative) positions."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        from chainrule.ops.shape import expand_dims as _ed

        return _ed(x, axes)
    return np.expand_dims(x, axes)


def transpose(x: Any, perm: tuple[int, ...]) -> Any:
    """Permute the trailing len(perm) axes; leading batch axes stay in front."""
    if x is ZERO:
        return ZERO
    nb = x.ndim - len(perm)
    full = tuple(range(nb)) + tuple(nb + p for p in perm)
    if isinstance(x, Tensor):
        from chainrule.ops.shape import transpose as _tr

        return _tr(x, full)
    return x.transpose(full)


def zeros(shape: tuple[int, ...], like: Any) -> Any:
    """Zeros of shape with like's dtype, as like's kind (ndarray or constant Tensor)."""
    v = value(like)
    z = B.zeros(shape, v.dtype, v)
    return Tensor._make(z, False, None) if isinstance(like, Tensor) else z


def apply_op(cls: Any, x: Any, *params: Any) -> Any:
    """Run op cls on an ndarray (plain forward) or a Tensor (recorded)."""
    if x is ZERO:
        return ZERO
    if isinstance(x, Tensor):
        return cls.apply(x, *params)
    from chainrule.autodiff.function import Context

    return cls.forward(Context(), x, *params)
