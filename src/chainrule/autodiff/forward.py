"""Forward mode: tangents pushed through each op as it runs, one dict entry per active level."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autodiff import function as _function
from chainrule.autodiff.function import (
    Context,
    Function,
    TensorContext,
    _next_seq,
    saved_tensors,
)
from chainrule.autodiff.modes import STATE
from chainrule.autodiff.zero import ZERO
from chainrule.backend import asarray, is_device_array
from chainrule.tensor import Tensor


def restrict(t: Tensor, level: int) -> Tensor:
    """The same value as t carrying only the tangents of levels below ``level``."""
    tans = t._tangents
    if not tans or all(lv < level for lv in tans):
        return t
    kept = {lv: d for lv, d in tans.items() if lv < level}
    return alias(t, kept or None)


def alias(t: Tensor, tangents: dict | None) -> Tensor:
    """A new Tensor for the same graph value as t, with other tangents."""
    if t.requires_grad and t._node is None and STATE.grad_enabled:
        # A leaf: route gradients through an identity node so they still reach t.
        ctx = Context()
        ctx.op = Identity
        ctx.args = (t,)
        ctx.seq = _next_seq()
        ctx.out_ndim = t._data.ndim
        ctx.out_id = id(t._data)
        out = Tensor._make(t._data, True, ctx)
    else:
        out = Tensor._make(t._data, t.requires_grad and t._node is not None, t._node)
    out._tangents = tangents
    return out


class Identity(Function):
    """x -> x, used to give a value a distinct node (transform inputs, aliases of leaves)."""

    name = "identity"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return x.view()

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return g

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return dx


def _batch_of(inputs: tuple, tans: list) -> tuple[int, tuple]:
    for a, d in zip(inputs, tans):
        if d is not ZERO:
            nb = d.ndim - a._data.ndim
            return nb, d.shape[:nb]
    return 0, ()


def as_tangent(d: Any, shape: tuple, dtype: np.dtype) -> Any:
    """A jvp rule's array result as an output's tangent: an array of ``shape`` (the batch axes,
    then the output's) and ``dtype``, broadcast and cast as needed."""
    if type(d) is not np.ndarray:
        d = asarray(d)
    if d.shape != shape:
        d = np.broadcast_to(d, shape)
    if d.dtype != dtype:
        d = d.astype(dtype)
    return d


def push_tangents(cls: Any, ctx: Context, inputs: tuple, out: Tensor) -> None:
    """Compute out's tangent at every level its inputs carry, with cls's jvp rule."""
    levels: set[int] = set()
    fast = True
    for a in inputs:
        if isinstance(a, Tensor):
            if a._tangents is not None:
                levels.update(a._tangents)
                for d in a._tangents.values():
                    if not isinstance(d, np.ndarray) and not is_device_array(d):
                        fast = False
            if a.requires_grad and STATE.grad_enabled:
                fast = False
    if len(levels) > 1:
        fast = False
    out_shape = out._data.shape
    if fast:
        (level,) = levels
        tans = [a._tangents.get(level, ZERO) if isinstance(a, Tensor) and a._tangents else ZERO
                for a in inputs]
        nb, bshape = _batch_of(inputs, tans)
        ctx.batch = nb
        d = cls.jvp(ctx, *tans)
        if d is ZERO:
            return
        d = as_tangent(d, bshape + out_shape, out._data.dtype)
        out._tangents = {level: d}
        if _function.RECORDER is not None:  # cr.compile records this rule call after the op
            _function.RECORDER.pending_jvp = (ctx, cls.jvp, tans, nb, d)
        return
    if _function.RECORDER is not None:
        _function.RECORDER.unsupported("forward mode with nested levels, Tensor tangents or a "
                                       "graph through the tangents (not recorded yet)")
    from chainrule.ops.shape import broadcast_to_batched

    result: dict[int, Any] = {}
    for level in sorted(levels):
        snapshot = dict(result)

        def out_alias(snapshot: dict = snapshot) -> Tensor:
            return alias(out, snapshot or None)

        tans = []
        for a in inputs:
            d = a._tangents.get(level, ZERO) if isinstance(a, Tensor) and a._tangents else ZERO
            if isinstance(d, np.ndarray) or is_device_array(d):
                d = Tensor._make(d, False, None)
            tans.append(d)
        nb, bshape = _batch_of(inputs, tans)
        tctx = TensorContext(ctx, saved_tensors(ctx, inputs, out_alias, strip=level), nb)
        d = cls.jvp(tctx, *tans)
        if d is ZERO:
            continue
        if not isinstance(d, Tensor):
            d = Tensor._make(asarray(d), False, None)
        if d._data.shape != bshape + out_shape:
            d = broadcast_to_batched(d, bshape + out_shape)
        result[level] = d
    out._tangents = result or None


def attach(t: Tensor, level: int, tangent: Any) -> Tensor:
    """A Tensor for t's value with ``tangent`` at ``level`` added to its tangents."""
    tans = dict(t._tangents) if t._tangents else {}
    tans[level] = tangent
    return alias(t, tans)


def tangent_of(t: Any, level: int) -> Any:
    """t's tangent at level, or ZERO."""
    if isinstance(t, Tensor) and t._tangents:
        return t._tangents.get(level, ZERO)
    return ZERO


def drop_level(t: Any, level: int) -> Any:
    """t without its tangent at ``level`` (the primal seen from outside a finished jvp)."""
    if not isinstance(t, Tensor) or not t._tangents or level not in t._tangents:
        return t
    kept = {lv: d for lv, d in t._tangents.items() if lv != level}
    return alias(t, kept or None)
