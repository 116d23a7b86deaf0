"""Scans and orderings along an axis: cumsum, cumprod, diff, gradient, sort."""

from __future__ import annotations

import builtins
from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff import function
from chainrule.autodiff.function import Context, Function, values
from chainrule.dtypes import get_default_dtype, result_dtype
from chainrule.ops import rules as R
from chainrule.ops.axes import AxisError, check_axis
from chainrule.ops.elementwise import astype, where
from chainrule.ops.indexing import getitem
from chainrule.ops.reduction import prod
from chainrule.ops.shape import broadcast_to, concatenate, reshape, swapaxes
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _cumsum(x: NDArray, axis: int, reverse: bool) -> NDArray:
    if not reverse:
        return np.cumsum(x, axis)
    flip = (Ellipsis, slice(None, None, -1)) + (slice(None),) * (-axis - 1)
    return np.cumsum(x[flip], axis)[flip]


class Cumsum(Function):
    """Running sum along an axis.  Reverse: the running sum of g from the end.  Forward: cumsum."""

    name = "cumsum"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: int, reverse: bool = False) -> NDArray:
        ctx.axis, ctx.reverse = axis, reverse
        return _cumsum(x, axis, reverse)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(Cumsum, g, ctx.axis, not ctx.reverse)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(Cumsum, dx, ctx.axis, ctx.reverse)


class Cumprod(Function):
    """Running product along an axis, for inputs without zeros (cumprod routes the others).

    Reverse: revcumsum(g y) / x.  Forward: y cumsum(dx / x).
    """

    name = "cumprod"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: int) -> NDArray:
        ctx.axis = axis
        y = np.cumprod(x, axis)
        ctx.saved = (x, y)
        return y

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        x, y = ctx.saved
        return R.apply_op(Cumsum, g * y, ctx.axis, True) / x

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        x, y = ctx.saved
        return y * R.apply_op(Cumsum, dx / x, ctx.axis, False)


class TakePermutation(Function):
    """x reordered along an axis by a permutation per line (take_along_axis).  Reverse: the
    inverse permutation.  Forward: the same permutation."""

    name = "take_permutation"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, perm: NDArray, inverse: NDArray, axis: int) -> NDArray:
        ctx.perm, ctx.inverse, ctx.axis = perm, inverse, axis
        return np.take_along_axis(x, np.broadcast_to(perm, x.shape), axis)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(TakePermutation, g, ctx.inverse, ctx.perm, ctx.axis)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(TakePermutation, dx, ctx.perm, ctx.inverse, ctx.axis)


# ----- public functions -----
def _flat_or_axis(op: str, a: Tensor, axis: Any) -> tuple[Tensor, int]:
    """(a, axis from the end), a flattened when axis is None (NumPy's convention)."""
    if axis is None:
        return reshape(a, (-1,)), -1
    return a, check_axis(op, axis, a.ndim) - a.ndim


def cumsum(a: Any, axis: int | None = None, dtype: Any = None, *, dim: Any = None) -> Tensor:
    """Running sum along axis (of the flattened tensor when None), as np.cumsum."""
    a = _t(a)
    if dtype is not None:
        a = astype(a, dtype)
    if a.ndim == 0:  # NumPy's scans take a 0-d input as 1-d (axis 0 or -1)
        a = reshape(a, (1,))
    a, ax = _flat_or_axis("cumsum", a, axis if dim is None else dim)
    return Cumsum.apply(a, ax, False)


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, *, dim: Any = None) -> Tensor:
    """Running product along axis (of the flattened tensor when None), as np.cumprod.

    Inputs with zeros take an exact O(n^2) route (products of masked copies), so every order of
    derivative stays right there; the others an O(n) rule.
    """
    a = _t(a)
    if dtype is not None:
        a = astype(a, dtype)
    if a.ndim == 0:  # NumPy's scans take a 0-d input as 1-d (axis 0 or -1)
        a = reshape(a, (1,))
    a, ax = _flat_or_axis("cumprod", a, axis if dim is None else dim)
    if a.dtype.kind == "f" and function.RECORDER is not None:
        function.RECORDER.unsupported("cumprod (its rule for zeros is chosen by the values)")
    if a.dtype.kind != "f" or (a._data != 0).all():
        return Cumprod.apply(a, ax)
    n = a.shape[ax]
    moved = reshape(swapaxes(a, ax, -1), (*swapaxes(a, ax, -1).shape[:-1], 1, n))
    upper = np.tri(n, dtype=bool)  # row i keeps elements j <= i, the others become 1
    return swapaxes(prod(where(upper, moved, a.dtype.type(1)), axis=-1), ax, -1)


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None, *,
         dim: Any = None) -> Tensor:
    """The n-th forward difference a[i+1] - a[i] along axis, as np.diff."""
    a = _t(a)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative, got {n}")
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = check_axis("diff", axis if dim is None else dim, a.ndim)
    parts = []
    for extra in (prepend, a, append):
        if extra is None:
            continue
        if not isinstance(extra, Tensor):  # NumPy's dtype for a float prepend to ints
            raw = extra if isinstance(extra, int | float) else B.asarray(extra)
            extra = Tensor._make(B.array_like(raw, a._data, result_dtype(a._data, raw)), False,
                                 None)
        e = extra
        if e.ndim == 0:  # a scalar is broadcast to a length-1 slab along axis
            e = broadcast_to(e, (*a.shape[:ax], 1, *a.shape[ax + 1:]))
        parts.append(e)
    if len(parts) > 1:
        a = concatenate(parts, axis=ax)
    lead = (slice(None),) * ax
    for _ in range(n):
        hi, lo = getitem(a, (*lead, slice(1, None))), getitem(a, (*lead, slice(None, -1)))
        a = hi != lo if a.dtype == np.bool_ else hi - lo  # NumPy's diff of bools
    return a


def _gradient_one(f: Tensor, h: float, ax: int, edge_order: int) -> Tensor:
    lead = (slice(None),) * ax

    def at(s: Any) -> Tensor:
        return getitem(f, (*lead, s))

    interior = (at(slice(2, None)) - at(slice(None, -2))) * (0.5 / h)
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) * (1.0 / h)
        last = (at(slice(-1, None)) - at(slice(-2, -1))) * (1.0 / h)
    else:
        first = (at(slice(0, 1)) * -1.5 + at(slice(1, 2)) * 2.0 - at(slice(2, 3)) * 0.5) / h
        last = (at(slice(-3, -2)) * 0.5 - at(slice(-2, -1)) * 2.0 + at(slice(-1, None)) * 1.5) / h
    return concatenate([first, interior, last], axis=ax)


def _gradient_coords(f: Tensor, x: np.ndarray, ax: int, edge_order: int) -> Tensor:
    """np.gradient's second-order differences on the coordinates x along ax (non-uniform)."""
    lead = (slice(None),) * ax
    shape = [1] * f.ndim

    def at(s: Any) -> Tensor:
        return getitem(f, (*lead, s))

    dtype = f.dtype if f.dtype.kind == "f" else get_default_dtype()

    def coef(c: Any) -> np.ndarray:
        c = np.asarray(c, dtype)
        return c.reshape([*shape[:ax], c.size, *shape[ax + 1:]])

    d1, d2 = x[1:-1] - x[:-2], x[2:] - x[1:-1]
    interior = (at(slice(None, -2)) * coef(-d2 / (d1 * (d1 + d2)))
                + at(slice(1, -1)) * coef((d2 - d1) / (d1 * d2))
                + at(slice(2, None)) * coef(d1 / (d2 * (d1 + d2))))
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) * coef(1.0 / (x[1:2] - x[:1]))
        last = (at(slice(-1, None)) - at(slice(-2, -1))) * coef(1.0 / (x[-1:] - x[-2:-1]))
    else:
        a, b = x[1:2] - x[:1], x[2:3] - x[1:2]
        first = (at(slice(0, 1)) * coef(-(2 * a + b) / (a * (a + b)))
                 + at(slice(1, 2)) * coef((a + b) / (a * b))
                 + at(slice(2, 3)) * coef(-a / (b * (a + b))))
        a, b = x[-2:-1] - x[-3:-2], x[-1:] - x[-2:-1]
        last = (at(slice(-3, -2)) * coef(b / (a * (a + b)))
                + at(slice(-2, -1)) * coef(-(a + b) / (a * b))
                + at(slice(-1, None)) * coef((2 * b + a) / (b * (a + b))))
    return concatenate([first, interior, last], axis=ax)


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """Central differences inside, one-sided (edge_order 1 or 2) at the ends, as np.gradient;
    each axis's spacing is a scalar or its coordinates (1-D, non-uniform: differentiable in f,
    the coordinates are constants); a list when several axes."""
    f = _t(f)
    axes = (tuple(range(f.ndim)) if axis is None else
            (axis,) if isinstance(axis, int | np.integer) else tuple(axis))
    axes = tuple(check_axis("gradient", a, f.ndim) for a in axes)
    if not varargs:
        spacing: list[Any] = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError(f"gradient: expected 0, 1 or {len(axes)} spacings (one per axis), "
                        f"got {len(varargs)}")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    out = []
    for ax, h in zip(axes, spacing):
        if f.shape[ax] < edge_order + 1:
            raise ValueError("gradient: shape of the array too small to calculate a numerical "
                             "gradient, at least (edge_order + 1) elements are required")
        h = h._data if isinstance(h, Tensor) else np.asarray(h)
        if h.ndim == 0:
            out.append(_gradient_one(f, float(h), ax, edge_order))
            continue
        if h.ndim != 1 or len(h) != f.shape[ax]:
            raise ValueError(f"gradient: the coordinates of axis {ax} must be 1-D of length "
                             f"{f.shape[ax]}, got shape {h.shape}")
        d = np.diff(h)
        if (d == d[0]).all():  # uniform coordinates: NumPy uses the uniform formulas
            out.append(_gradient_one(f, float(d[0]), ax, edge_order))
        else:
            out.append(_gradient_coords(f, h.astype(np.float64), ax, edge_order))
    return out[0] if len(out) == 1 else out


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *,
         stable: Any = None) -> Tensor:
    """Sorted copy along axis (of the flattened tensor when None).  Differentiable in the values
    as the permutation of a stable sort: tied entries keep their order (JAX's choice)."""
    a = _t(a)
    if order is not None:
        raise ValueError("sort: order= (structured arrays) is not supported")
    a, ax = _flat_or_axis("sort", a, axis)
    if a.ndim == 0:
        return getitem(a, ())
    return _permuted(a, partial(np.argsort, axis=ax, kind="stable"), ax)


def partition(a: Any, kth: Any, axis: int | None = -1, kind: Any = None,
              order: Any = None) -> Tensor:
    """np.partition: the kth entries in their sorted places, smaller ones before and larger ones
    after.  Differentiable in the values as the permutation np.argpartition gives (as sort)."""
    a = _t(a)
    if order is not None:
        raise ValueError("partition: order= (structured arrays) is not supported")
    a, ax = _flat_or_axis("partition", a, axis)
    return _permuted(a, partial(np.argpartition, kth=kth, axis=ax), ax)


def _permuted(a: Tensor, order: Any, ax: int) -> Tensor:
    """a permuted along ax by order(values) (indices as np.argsort gives), differentiably; the
    permutation is computed from the values by function.values (cr.compile replays it)."""
    perm = values(order, a)
    inverse = values(partial(np.argsort, axis=ax, kind="stable"), perm)
    return TakePermutation.apply(a, perm._data, inverse._data, ax)


def argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *,
            stable: Any = None) -> Tensor:
    """Indices that sort a along axis (of the flattened tensor when None), as np.argsort:
    int64, not differentiable."""
    a = _t(a)
    if order is not None:
        raise ValueError("argsort: order= (structured arrays) is not supported")
    if axis is not None and a.ndim:
        axis = check_axis("argsort", axis, a.ndim)
    elif axis is not None and int(axis) not in (0, -1):
        raise AxisError(f"argsort: axis {axis} is out of bounds for a tensor of 0 dimensions")
    return values(partial(_argsort, axis, kind, stable), a)


def _argsort(axis: int | None, kind: Any, stable: Any, a: Any) -> Any:
    return np.argsort(a, axis=axis, kind=kind, stable=stable).astype(np.int64, copy=False)


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None, out: None = None,
                   include_initial: bool = False) -> Tensor:
    """NumPy 2's np.cumulative_sum: cumsum along axis (needed above 1-d), with a leading 0 when
    include_initial."""
    x = _t(x)
    if out is not None:
        raise TypeError("cumulative_sum: out= is not supported (results are new Tensors)")
    if axis is None and x.ndim > 1:
        raise ValueError(f"cumulative_sum: axis must be given for a tensor of {x.ndim} dimensions "
                         f"(shape {x.shape})")
    ax = 0 if axis is None else check_axis("cumulative_sum", axis, builtins.max(x.ndim, 1))
    y = cumsum(x, axis, dtype)
    if not include_initial:
        return y
    zero = B.zeros((*y.shape[:ax], 1, *y.shape[ax + 1:]), y.dtype, y._data)
    return concatenate([zero, y], axis=ax)
