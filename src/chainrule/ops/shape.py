"""Shape ops: reshape, transpose, broadcast, concatenate, pad (linear; batch axes kept)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function, _apply, _constant
from chainrule.autodiff.zero import ZERO
from chainrule.ops import rules as R
from chainrule.ops.axes import check_axes, check_axis
from chainrule.ops.elementwise import promote_all
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


class Reshape(Function):
    """Reshape.  Reverse: reshape g back.  Forward: reshape dx."""

    name = "reshape"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, shape: tuple[int, ...]) -> NDArray:
        try:
            out = x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None
        ctx.in_shape, ctx.out_shape = x.shape, out.shape
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.reshape(g, g.shape[: ctx.batch] + ctx.in_shape)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.reshape(dx, dx.shape[: ctx.batch] + ctx.out_shape)


class Clone(Function):
    """A copy in new (C-contiguous) memory.  Reverse: g.  Forward: dx."""

    name = "clone"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray) -> NDArray:
        return x.copy(order="C")

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return g

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return dx


class Transpose(Function):
    """Permute axes.  Reverse: the inverse permutation.  Forward: the same permutation."""

    name = "transpose"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axes: Any) -> NDArray:
        if axes is None:
            axes = tuple(range(x.ndim))[::-1]
        if len(axes) != x.ndim:
            raise ValueError(f"transpose: axes {tuple(axes)} do not match a {x.ndim}-d shape")
        axes = tuple(check_axis("transpose", a, x.ndim) for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of a {x.ndim}-d shape")
        ctx.perm = axes
        return x.transpose(axes)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.transpose(g, tuple(np.argsort(ctx.perm)))

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.transpose(dx, ctx.perm)


class BroadcastTo(Function):
    """Broadcast to a shape.  Reverse: sum back.  Forward: broadcast dx."""

    name = "broadcast_to"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, shape: tuple[int, ...]) -> NDArray:
        try:
            out = np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
        ctx.in_shape, ctx.out_shape = x.shape, out.shape
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.sum_to(g, ctx.in_shape, ctx.batch)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        nb, new = ctx.batch, len(ctx.out_shape) - len(ctx.in_shape)
        if nb and new:  # the new axes go after the batch axes, not before them
            dx = R.reshape(dx, dx.shape[:nb] + (1,) * new + ctx.in_shape)
        return R.broadcast_to(dx, dx.shape[:nb] + ctx.out_shape)


class Concatenate(Function):
    """Join along an axis.  Reverse: split g.  Forward: join the tangents."""

    name = "concatenate"

    @staticmethod
    def forward(ctx: Context, *arrays_and_axis: Any) -> NDArray:
        *arrays, axis = arrays_and_axis
        if not arrays:
            raise ValueError("concatenate: need at least one tensor")
        arrays = promote_all("concatenate", arrays)
        nd = arrays[0].ndim
        if nd == 0:
            raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
        check_axis("concatenate", axis, nd)
        try:
            out = np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} do not match off axis {axis}") from None
        ctx.axis = axis - nd if axis >= 0 else axis
        ctx.shapes = [a.shape for a in arrays]
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, ...]:
        ax = ctx.axis
        tail = (slice(None),) * (-ax - 1)
        out, start = [], 0
        for s in ctx.shapes:
            n = s[ax]
            out.append(g[(Ellipsis, slice(start, start + n), *tail)])
            start += n
        return tuple(out) if len(out) > 1 else out[0]  # one input: a bare cotangent

    @staticmethod
    def jvp(ctx: Context, *tangents: Any) -> Any:
        ref = next(t for t in tangents if t is not ZERO)
        nb = ctx.batch
        parts = [R.zeros(ref.shape[:nb] + s, ref) if t is ZERO else t
                 for t, s in zip(tangents, ctx.shapes)]
        if isinstance(ref, Tensor):
            return concatenate(parts, axis=ctx.axis)
        return np.concatenate(parts, axis=ctx.axis)


class Pad(Function):
    """Constant padding.  Reverse: the slice of g over the original.  Forward: pad dx with 0."""

    name = "pad"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, pad_width: Any, value: float) -> NDArray:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
        if (pw < 0).any():
            raise ValueError(f"pad: negative pad width {pad_width}")
        ctx.pw = [tuple(int(v) for v in row) for row in pw]
        ctx.shape = x.shape
        if x.ndim == 0:  # nothing to pad (np.pad returns a copy)
            return x.copy()
        return np.pad(x, ctx.pw, constant_values=value)

    @staticmethod
    def _inner(ctx: Context) -> tuple:
        return tuple(slice(lo, lo + n) for (lo, _), n in zip(ctx.pw, ctx.shape))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return g[(Ellipsis, *Pad._inner(ctx))]

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        pw = [(0, 0)] * ctx.batch + ctx.pw
        if isinstance(dx, Tensor):
            return Pad.apply(dx, pw, 0.0)
        return np.pad(dx, pw) if pw else dx


# ----- public functions -----
def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Any, *shape: Any) -> Tensor:
    """A tensor with the same data and a new shape (one -1 allowed)."""
    return Reshape.apply(_t(x), _shape_arg(shape))


def clone(x: Any) -> Tensor:
    """A copy of x in its own memory (differentiable)."""
    return Clone.apply(_t(x))


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute axes (reverse them when axes is None), as np.transpose."""
    return Transpose.apply(_t(x), None if axes is None else tuple(axes))


def permute(x: Any, *dims: Any) -> Tensor:
    """Permute axes (PyTorch's name)."""
    return Transpose.apply(_t(x), _shape_arg(dims))


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Swap two axes."""
    x = _t(x)
    perm = list(range(x.ndim))
    a, b = check_axis("swapaxes", axis1, x.ndim), check_axis("swapaxes", axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose.apply(x, tuple(perm))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Broadcast x to shape."""
    return BroadcastTo.apply(_t(x), tuple(shape))


def broadcast_to_batched(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Broadcast a (tangent) Tensor to shape (used by the engine)."""
    return BroadcastTo.apply(x, tuple(shape))


def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert length-1 axes at axis (int or tuple)."""
    x = _t(x)
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out_nd = x.ndim + len(axes)
    check_axes("expand_dims", axes, out_nd)
    return Reshape.apply(x, np.expand_dims(np.empty(x.shape, dtype=np.bool_), axis).shape)


def unsqueeze(x: Any, dim: int) -> Tensor:
    """Insert a length-1 axis at dim (PyTorch's name)."""
    return expand_dims(x, dim)


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove length-1 axes (all of them, or those given)."""
    x = _t(x)
    axis = dim if axis is None else axis
    if axis is not None:
        check_axes("squeeze", (axis,) if isinstance(axis, int | np.integer) else axis, x.ndim)
    try:
        shape = np.squeeze(np.empty(x.shape, dtype=np.bool_), axis).shape
    except ValueError:
        raise ValueError(f"squeeze: axis {axis} of shape {x.shape} is not of length 1") from None
    return Reshape.apply(x, shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (PyTorch's flatten)."""
    x = _t(x)
    if x.ndim == 0:
        return Reshape.apply(x, (1,))
    s, e = check_axis("flatten", start_dim, x.ndim), check_axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (*x.shape[:s], int(np.prod(x.shape[s:e + 1])), *x.shape[e + 1:])
    return Reshape.apply(x, shape)


def concatenate(tensors: Any, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis."""
    axis = dim if dim is not None else axis
    return _apply(Concatenate, tuple(tensors), (int(axis),))


cat = concatenate


def stack(tensors: Any, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis."""
    axis = dim if dim is not None else axis
    tensors = tuple(tensors)  # constants take the Tensors' float dtype, as in concatenate
    ts = [t if isinstance(t, Tensor) else Tensor(_constant(t, tensors)) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into pieces along axis, as np.split (a number of equal sections, or indices)."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor cannot be split")
    ax = check_axis("split", axis, x.ndim)
    n = x.shape[ax]
    if isinstance(indices_or_sections, int | np.integer):
        if indices_or_sections <= 0:
            raise ValueError(f"split: the number of sections must be positive, got "
                             f"{indices_or_sections}")
        if n % indices_or_sections:
            raise ValueError(
                f"split: axis {axis} of length {n} does not divide into {indices_or_sections}"
            )
        step = n // indices_or_sections
        bounds = [i * step for i in range(int(indices_or_sections) + 1)]
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]  # slices, as np.split
    return [x[(slice(None),) * ax + (slice(a, b),)] for a, b in itertools.pairwise(bounds)]


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0) -> Tensor:
    """Pad with a constant, as np.pad (pad_width: int, (before, after) or one pair per axis)."""
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported (only 'constant')")
    return Pad.apply(_t(x), pad_width, constant_values)
