"""NumPy's further shape functions: moving, rolling, repeating, flipping, stacking helpers,
splits, and the diagonal family (tril, triu, diag, diagonal, trace).  All linear."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function, constant
from chainrule.ops import rules as R
from chainrule.ops.axes import check_axis
from chainrule.ops.elementwise import where
from chainrule.ops.indexing import getitem
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import broadcast_to, concatenate, reshape, split, transpose
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _neg(op: str, axis: int, ndim: int) -> int:
    """axis checked and counted from the end (so leading batch axes pass through)."""
    return check_axis(op, axis, ndim) - ndim


def _axes(axis: Any) -> tuple:
    return (axis,) if isinstance(axis, int | np.integer) else tuple(axis)


class Roll(Function):
    """np.roll along axes.  Reverse: roll g back by -shift.  Forward: roll dx by shift."""

    name = "roll"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, shifts: tuple, axes: tuple) -> NDArray:
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(Roll, g, tuple(-s for s in ctx.shifts), ctx.axes)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(Roll, dx, ctx.shifts, ctx.axes)


class Repeat(Function):
    """np.repeat along an axis.  Reverse: sum each run of copies.  Forward: repeat dx."""

    name = "repeat"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, repeats: Any, axis: int) -> NDArray:
        ctx.repeats, ctx.axis, ctx.n = repeats, axis, x.shape[axis]
        return np.repeat(x, repeats if isinstance(repeats, int) else repeats.tolist(), axis)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(RepeatSum, g, ctx.repeats, ctx.axis, ctx.n)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(Repeat, dx, ctx.repeats, ctx.axis)


class RepeatSum(Function):
    """Sums of consecutive runs (of lengths repeats) along an axis: the transpose of repeat."""

    name = "repeat_sum"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, g: NDArray, repeats: Any, axis: int, n: int) -> NDArray:
        ctx.repeats, ctx.axis, ctx.n = repeats, axis, n
        if isinstance(repeats, int):
            tail = g.shape[axis + 1:] if axis != -1 else ()
            return g.reshape((*g.shape[:axis], n, repeats, *tail)).sum(axis=axis)
        ends = np.cumsum(repeats)
        keep = repeats > 0
        out = B.zeros(g.shape[:axis] + (n,) + (g.shape[axis + 1:] if axis != -1 else ()),
                      g.dtype, g)
        if keep.any():
            sums = B.add_reduceat(g, (ends - repeats)[keep], axis)
            out[(Ellipsis, np.flatnonzero(keep)) + (slice(None),) * (-axis - 1)] = sums
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(Repeat, g, ctx.repeats, ctx.axis)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(RepeatSum, dx, ctx.repeats, ctx.axis, ctx.n)


class Diagonal(Function):
    """np.diagonal (the diagonal as the last axis).  Reverse: g placed on a diagonal of zeros."""

    name = "diagonal"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, offset: int, axis1: int, axis2: int) -> NDArray:
        ctx.offset, ctx.axis1, ctx.axis2 = offset, axis1, axis2
        ctx.sizes = (x.shape[axis1], x.shape[axis2])
        return np.diagonal(x, offset, axis1, axis2).copy()

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(DiagEmbed, g, ctx.offset, ctx.axis1, ctx.axis2, ctx.sizes)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(Diagonal, dx, ctx.offset, ctx.axis1, ctx.axis2)


class DiagEmbed(Function):
    """The last axis put on a diagonal of zeros over (axis1, axis2): diagonal's transpose."""

    name = "diag_embed"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, g: NDArray, offset: int, axis1: int, axis2: int,
                sizes: tuple[int, int]) -> NDArray:
        ctx.offset, ctx.axis1, ctx.axis2, ctx.sizes = offset, axis1, axis2, sizes
        out = B.zeros(g.shape[:-1] + sizes, g.dtype, g)
        i = np.arange(g.shape[-1])
        out[..., i + max(-offset, 0), i + max(offset, 0)] = g
        return np.moveaxis(out, (-2, -1), (axis1, axis2))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(Diagonal, g, ctx.offset, ctx.axis1, ctx.axis2)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(DiagEmbed, dx, ctx.offset, ctx.axis1, ctx.axis2, ctx.sizes)


# ----- public functions -----
def _perm(fn: Any, ndim: int) -> tuple[int, ...]:
    """The axis permutation that fn (moveaxis, rollaxis ...) applies to a ndim-d array."""
    probe = np.broadcast_to(np.empty((), np.int8), tuple(range(2, ndim + 2)))
    return tuple(n - 2 for n in fn(probe).shape)


def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move axes to new positions, the others keeping their order (as np.moveaxis)."""
    a = _t(a)
    return transpose(a, _perm(lambda p: np.moveaxis(p, source, destination), a.ndim))


def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Roll axis backwards until it lies before position start (as np.rollaxis)."""
    a = _t(a)
    return transpose(a, _perm(lambda p: np.rollaxis(p, axis, start), a.ndim))


def roll(a: Any, shift: Any = None, axis: Any = None, *, shifts: Any = None,
         dims: Any = None) -> Tensor:
    """Shift elements cyclically along axis (the flattened tensor when None), as np.roll."""
    a = _t(a)
    shift, axis = (shift if shifts is None else shifts), (axis if dims is None else dims)
    if shift is None:
        raise TypeError("roll() missing required argument 'shift'")
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    axes = tuple(_neg("roll", ax, a.ndim) for ax in _axes(axis))
    shifts_ = tuple(int(s) for s in np.broadcast_to(np.asarray(shift), (len(axes),)))
    return Roll.apply(a, shifts_, axes)


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Repeat each element repeats times along axis (the flattened tensor when None), as
    np.repeat; repeats is one count or one per element."""
    a = _t(a)
    if axis is None or a.ndim == 0:  # NumPy takes a 0-d input as 1-d (axis 0 or -1)
        a, axis = ravel(a), 0 if axis is None else axis
    ax = _neg("repeat", axis, a.ndim)
    r = np.asarray(B.asnumpy(repeats._data if isinstance(repeats, Tensor) else repeats),
                   dtype=np.int64)
    if (r < 0).any():
        raise ValueError(f"repeat: negative repeats {repeats}")
    if r.ndim == 0 or r.size == 1:
        return Repeat.apply(a, int(r.reshape(())), ax)
    if r.shape != (a.shape[ax],):
        raise ValueError(f"repeat: {r.size} repeats for an axis of length {a.shape[ax]}")
    return Repeat.apply(a, r, ax)


def tile(A: Any, reps: Any) -> Tensor:
    """A repeated reps[i] times along each axis (reps padded with leading 1s), as np.tile."""
    A = _t(A)
    reps = _axes(reps)
    reps = (1,) * (A.ndim - len(reps)) + tuple(int(r) for r in reps)
    x = reshape(A, (1,) * (len(reps) - A.ndim) + A.shape)
    inter = tuple(d for pair in zip((1,) * x.ndim, x.shape) for d in pair)
    big = tuple(d for pair in zip(reps, x.shape) for d in pair)
    return reshape(broadcast_to(reshape(x, inter), big), tuple(r * n for r, n in zip(reps,
                                                                                      x.shape)))


def flip(m: Any, axis: Any = None) -> Tensor:
    """Reverse the order of elements along axis (all axes when None), as np.flip."""
    m = _t(m)
    axes = range(m.ndim) if axis is None else [check_axis("flip", a, m.ndim) for a in _axes(axis)]
    if len(set(axes)) != len(axes):
        raise ValueError(f"flip: repeated axis in {axis}")
    idx = [slice(None)] * m.ndim
    for a in axes:
        idx[a] = slice(None, None, -1)
    return getitem(m, tuple(idx))


def fliplr(m: Any) -> Tensor:
    """Reverse the columns (axis 1)."""
    m = _t(m)
    if m.ndim < 2:
        raise ValueError(f"fliplr: the tensor must be at least 2-d, got {m.ndim}-d")
    return flip(m, 1)


def flipud(m: Any) -> Tensor:
    """Reverse the rows (axis 0)."""
    m = _t(m)
    if m.ndim < 1:
        raise ValueError("flipud: the tensor must be at least 1-d")
    return flip(m, 0)


def rot90(m: Any, k: int = 1, axes: Any = (0, 1), *, dims: Any = None) -> Tensor:
    """Rotate by 90 degrees k times in the plane of axes, from the first toward the second."""
    m = _t(m)
    a0, a1 = (check_axis("rot90", a, m.ndim) for a in (axes if dims is None else dims))
    if a0 == a1:
        raise ValueError("rot90: the axes must be different")
    k %= 4
    if k == 0:
        return getitem(m, ())
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return transpose(flip(m, a1), perm) if k == 1 else flip(transpose(m, perm), a1)


def ravel(a: Any, order: str = "C") -> Tensor:
    """The elements as a 1-d tensor (C order)."""
    if order not in ("C", "A", "K"):
        raise ValueError(f"ravel: order {order!r} is not supported (only 'C')")
    return reshape(_t(a), (-1,))


def _atleast(nd: int, arys: tuple) -> Any:
    out = []
    for a in map(_t, arys):
        if a.ndim >= nd:
            out.append(a)
        elif nd == 3 and a.ndim == 2:
            out.append(reshape(a, (*a.shape, 1)))
        elif nd == 3 and a.ndim == 1:
            out.append(reshape(a, (1, a.shape[0], 1)))
        else:
            out.append(reshape(a, (1,) * (nd - a.ndim) + a.shape))
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least 1 axis (a tuple when several are given)."""
    return _atleast(1, arys)


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least 2 axes; a 1-d (N,) becomes (1, N)."""
    return _atleast(2, arys)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least 3 axes; (N,) becomes (1, N, 1) and (M, N) becomes (M, N, 1)."""
    return _atleast(3, arys)


def _listed(nd: int, tup: Any) -> list[Tensor]:
    return [atleast_1d(t) if nd == 1 else _atleast(nd, (t,)) for t in tup]


def hstack(tup: Any) -> Tensor:
    """Join along axis 1 (axis 0 for 1-d inputs)."""
    arrs = _listed(1, tup)
    return concatenate(arrs, axis=0 if arrs and arrs[0].ndim == 1 else 1)


def vstack(tup: Any) -> Tensor:
    """Join along axis 0, 1-d inputs taken as rows."""
    return concatenate(_listed(2, tup), axis=0)


row_stack = vstack


def dstack(tup: Any) -> Tensor:
    """Join along axis 2 (depth), after atleast_3d."""
    return concatenate(_listed(3, tup), axis=2)


def column_stack(tup: Any) -> Tensor:
    """Join along axis 1, 1-d inputs taken as columns."""
    arrs = [_t(a) for a in tup]
    arrs = [reshape(a, (-1, 1)) if a.ndim < 2 else a for a in arrs]
    return concatenate(arrs, axis=1)


def append(arr: Any, values: Any, axis: int | None = None) -> Tensor:
    """values joined after arr along axis (both flattened when None), as np.append."""
    arr, values = _t(arr), _t(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into pieces along axis; a number of sections need not divide the length."""
    ary = _t(ary)
    ax = check_axis("array_split", axis, ary.ndim)
    n = ary.shape[ax]
    if isinstance(indices_or_sections, int | np.integer):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"array_split: the number of sections must be positive, got {k}")
        q, r = divmod(n, k)
        bounds = [0, *itertools.accumulate([q + 1] * r + [q] * (k - r))]
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    return [getitem(ary, (slice(None),) * ax + (slice(a, b),))
            for a, b in itertools.pairwise(bounds)]


def hsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """split along axis 1 (axis 0 for 1-d)."""
    ary = _t(ary)
    if ary.ndim == 0:
        raise ValueError("hsplit only works on tensors of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if ary.ndim > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """split along axis 0 (at least 2-d)."""
    ary = _t(ary)
    if ary.ndim < 2:
        raise ValueError("vsplit only works on tensors of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """split along axis 2 (at least 3-d)."""
    ary = _t(ary)
    if ary.ndim < 3:
        raise ValueError("dsplit only works on tensors of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


def _tri_mask(m: Tensor, k: int, lower: bool) -> NDArray:
    if m.ndim == 0:
        raise ValueError(f"{'tril' if lower else 'triu'}: the tensor must be at least 1-d")
    rows, cols = (m.shape[-2:] if m.ndim >= 2 else (m.shape[-1],) * 2)
    tri = np.tri(rows, cols, k if lower else k - 1, dtype=bool)
    return constant(tri if lower else ~tri)


def tril(m: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """m with the entries above the k-th diagonal zeroed (derivative: the same mask)."""
    m = _t(m)
    return where(_tri_mask(m, k if diagonal is None else diagonal, True), m,
                 m.dtype.type(0))


def triu(m: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """m with the entries below the k-th diagonal zeroed (derivative: the same mask)."""
    m = _t(m)
    return where(_tri_mask(m, k if diagonal is None else diagonal, False), m,
                 m.dtype.type(0))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, *, dim1: Any = None,
             dim2: Any = None) -> Tensor:
    """The offset diagonal over axis1 and axis2, as the last axis (as np.diagonal)."""
    a = _t(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal: the tensor must be at least 2-d, got {a.ndim}-d")
    a1 = _neg("diagonal", axis1 if dim1 is None else dim1, a.ndim)
    a2 = _neg("diagonal", axis2 if dim2 is None else dim2, a.ndim)
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    return Diagonal.apply(a, int(offset), a1, a2)


def diag(v: Any, k: int = 0) -> Tensor:
    """A 2-d tensor with 1-d v on its k-th diagonal, or the k-th diagonal of a 2-d v."""
    v = _t(v)
    if v.ndim == 1:
        n = v.shape[0] + abs(int(k))
        return DiagEmbed.apply(v, int(k), -2, -1, (n, n))
    if v.ndim == 2:
        return Diagonal.apply(v, int(k), -2, -1)
    raise ValueError(f"diag: input must be 1-d or 2-d, got {v.ndim}-d")


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Tensor:
    """The sum along the offset diagonal over axis1 and axis2 (as np.trace)."""
    d = diagonal(a, offset, axis1, axis2)
    s = _sum(d, axis=-1)
    return s if dtype is None else s.astype(dtype)


def meshgrid(*xs: Any, indexing: str = "xy", sparse: bool = False, copy: bool = True) -> list:
    """Coordinate grids from 1-D tensors, as np.meshgrid (differentiable: broadcasts)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [reshape(_t(x), (-1,)) for x in xs]
    n = len(ts)
    shapes = [t.shape[0] for t in ts]
    if indexing == "xy" and n >= 2:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, t in enumerate(ts):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and n >= 2 else i
        shape = [1] * n
        shape[axis] = t.shape[0]
        g = reshape(t, tuple(shape))
        out.append(g if sparse else broadcast_to(g, tuple(shapes)))
    return out
