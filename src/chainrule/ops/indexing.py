"""Indexing: basic and advanced; repeated indices accumulate gradient (as np.add.at)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function
from chainrule.autodiff.sparse import IndexedCotangent
from chainrule.ops import rules as R
from chainrule.ops.axes import check_axis
from chainrule.tensor import Tensor, _raw_index, as_operand

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
        return B.asarray(out)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        nb = ctx.batch
        return R.apply_op(Scatter, g, g.shape[:nb] + ctx.shape, _batched(ctx.idx, nb))

    @staticmethod
    def sparse_vjp(ctx: Context, g: Any) -> IndexedCotangent:
        """vjp on ndarrays, unmaterialised: the parent's accumulator adds g at idx in place."""
        nb = ctx.batch
        return IndexedCotangent(g, g.shape[:nb] + ctx.shape, _batched(ctx.idx, nb),
                                _is_basic(ctx.idx))

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
        out = B.zeros(shape, g.dtype, g)
        if _is_basic(idx):
            out[idx] = g
        else:
            B.scatter_add(out, idx, g)
        return out

    @staticmethod
    def vjp(ctx: Context, gg: Any) -> Any:
        return R.apply_op(GetItem, gg, _batched(ctx.idx, ctx.batch))

    @staticmethod
    def jvp(ctx: Context, dg: Any) -> Any:
        nb = ctx.batch
        return R.apply_op(Scatter, dg, dg.shape[:nb] + ctx.target, _batched(ctx.idx, nb))


class IndexPut(Function):
    """x with v written at idx.  Reverse: (g zeroed at idx, g[idx] summed to v's shape).
    Forward: dx with dv written at idx."""

    name = "index_put"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, x: NDArray, v: NDArray, idx: tuple) -> NDArray:
        out = x.copy()
        try:
            out[idx] = v
        except (IndexError, ValueError) as e:
            raise type(e)(f"index_put: value of shape {v.shape} at index {idx} of a tensor of "
                          f"shape {x.shape}: {e}") from None
        ctx.idx = idx
        ctx.v_shape = v.shape
        ctx.x_shape = x.shape
        ctx.region_ndim = np.ndim(x[idx])
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        nb = ctx.batch
        idx = _batched(ctx.idx, nb)
        gx = index_put_value(g, idx, 0.0)
        gv = R.sum_to(R.apply_op(GetItem, g, idx), ctx.v_shape, nb)
        return gx, gv

    @staticmethod
    def jvp(ctx: Context, dx: Any, dv: Any) -> Any:
        if dx is R.ZERO and dv is R.ZERO:
            return R.ZERO
        nb = ctx.batch
        if dx is R.ZERO:
            lead = dv.shape[:nb]
            dx = R.zeros(lead + ctx.x_shape, dv)
        if dv is R.ZERO:
            return index_put_value(dx, _batched(ctx.idx, nb), 0.0)
        idx = _batched(ctx.idx, nb)
        extra = ctx.region_ndim - len(ctx.v_shape)
        if nb and extra > 0:  # line v's axes up with the region's trailing axes
            dv = R.reshape(dv, dv.shape[:nb] + (1,) * extra + ctx.v_shape)
        if isinstance(dx, Tensor) or isinstance(dv, Tensor):
            return IndexPut.apply(dx, dv, idx)
        return IndexPut.forward(Context(), dx, dv, idx)


def index_put_value(x: Any, idx: tuple, v: Any) -> Any:
    """x with the constant v written at idx (ndarray or recorded Tensor)."""
    if isinstance(x, Tensor):
        return IndexPut.apply(x, v, idx)
    out = x.copy()
    out[idx] = v
    return out


def index_put(x: Any, index: Any, v: Any) -> Tensor:
    """A copy of x with v written at index (the out-of-place ``x[index] = v``), differentiable."""
    x = x if isinstance(x, Tensor) else as_operand(x)
    return IndexPut.apply(x, v, _index_tuple(index))


def _index_tuple(index: Any) -> tuple:
    idx = _raw_index(index)
    if not isinstance(idx, tuple):
        idx = (idx,)
    return tuple(np.asarray(i) if isinstance(i, list) else i for i in idx)


def getitem(x: Any, index: Any) -> Tensor:
    """x[index]: basic and advanced indexing, differentiable."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return GetItem.apply(x, _index_tuple(index))


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Elements of x at indices along axis, or of the flattened x without one (as np.take)."""
    x = x if isinstance(x, Tensor) else as_operand(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    ax = check_axis("take", axis, x.ndim)
    return getitem(x, (slice(None),) * ax + (_raw_index(indices),))
