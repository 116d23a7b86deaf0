"""Indexing: basic and advanced; repeated indices accumulate gradient (as np.add.at)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function
from chainrule.ops import rules as R
from chainrule.tensor import Tensor, _raw_index

NDArray = np.ndarray


def _is_basic(idx: tuple) -> bool:
    return all(isinstance(i, int | slice | type(None) | type(Ellipsis)) for i in idx)


def _batched(idx: tuple, nb: int) -> tuple:
    return (slice(None),) * nb + idx if nb else idx


class GetItem(Function):
    """x[idx].  Reverse: scatter-add g into zeros.  Forward: dx[idx]."""

    name = "getitem"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, idx: tuple) -> NDArray:
        try:
            out = x[idx]
        except IndexError as e:
            raise IndexError(f"getitem: index {idx} on shape {x.shape}: {e}") from None
        ctx.idx = idx
        ctx.shape = x.shape
        return np.asarray(out)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        nb = ctx.batch
        return R.apply_op(Scatter, g, g.shape[:nb] + ctx.shape, _batched(ctx.idx, nb))

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(GetItem, dx, _batched(ctx.idx, ctx.batch))


class Scatter(Function):
    """zeros(shape) with g added at idx (the transpose of getitem)."""

    name = "scatter_add"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, g: NDArray, shape: tuple, idx: tuple) -> NDArray:
        ctx.idx = idx
        ctx.target = shape
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(idx):
            out[idx] = g
        else:
            np.add.at(out, idx, g)
        return out

    @staticmethod
    def vjp(ctx: Context, gg: Any) -> Any:
        return R.apply_op(GetItem, gg, _batched(ctx.idx, ctx.batch))

    @staticmethod
    def jvp(ctx: Context, dg: Any) -> Any:
        nb = ctx.batch
        return R.apply_op(Scatter, dg, dg.shape[:nb] + ctx.target, _batched(ctx.idx, nb))


def getitem(x: Any, index: Any) -> Tensor:
    """x[index]: basic and advanced indexing, differentiable."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    idx = _raw_index(index)
    if not isinstance(idx, tuple):
        idx = (idx,)
    idx = tuple(np.asarray(i) if isinstance(i, list) else i for i in idx)
    return GetItem.apply(x, idx)


def take(x: Any, indices: Any, axis: int = 0) -> Tensor:
    """Elements of x at indices along axis (as np.take)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    ax = axis % x.ndim
    return getitem(x, (slice(None),) * ax + (_raw_index(indices),))
