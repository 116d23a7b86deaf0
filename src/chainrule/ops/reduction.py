"""Reductions over axes: sum, max/min, prod, logsumexp, softmax and log_softmax."""

from __future__ import annotations

import builtins
from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function, values
from chainrule.dtypes import to_float
from chainrule.ops import rules as R
from chainrule.ops.axes import AxisError, check_axes, check_axis
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


def normalize_axes(name: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of negative ints (so leading batch axes are never touched)."""
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        # a 0-d tensor takes axis 0 or -1, as NumPy's ufunc reductions and PyTorch
        if not (-ndim <= a < ndim or (ndim == 0 and a in (0, -1))):
            raise AxisError(f"{name}: axis {a} is out of bounds for a tensor of {ndim} dimensions")
        out.append(0 if not ndim else a - ndim if a >= 0 else a)  # (0-d: 0, -1 are one axis)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def _expand(g: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """Put back the reduced axes of g as length-1 axes."""
    return g if keepdims or not axes else R.expand_dims(g, axes)


class Sum(Function):
    """Sum over axes.  Reverse: g broadcast back.  Forward: the sum of dx."""

    name = "sum"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: Any, keepdims: bool) -> NDArray:
        ctx.axes = axes = normalize_axes("sum", axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.shape = x.shape
        return B.asarray(x.sum(axis=axes, keepdims=keepdims))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        g = _expand(g, ctx.axes, ctx.keepdims)
        return R.broadcast_to(g, g.shape[: ctx.batch] + ctx.shape)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.sum(dx, axis=ctx.axes, keepdims=ctx.keepdims)


class Max(Function):
    """Max over axes (values only).  The gradient is shared evenly among tied maxima."""

    name = "max"
    n_in = 1
    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx: Context, x: NDArray, axis: Any, keepdims: bool) -> NDArray:
        ctx.axes = axes = normalize_axes(cls.name, axis, x.ndim)
        if x.size == 0 and builtins.any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{cls.name}: cannot reduce a zero-size axis of a tensor of shape "
                             f"{x.shape} (the {cls.name} of nothing is undefined)")
        ctx.keepdims = keepdims
        m = cls.reduce(x, axis=axes, keepdims=True)
        mask = x == m
        ctx.weights = mask / mask.sum(axis=axes, keepdims=True).astype(x.dtype)
        return B.asarray(m if keepdims else m.reshape([n for i, n in enumerate(x.shape)
                                                         if i - x.ndim not in axes]))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return _expand(g, ctx.axes, ctx.keepdims) * ctx.weights

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.sum(dx * ctx.weights, axis=ctx.axes, keepdims=ctx.keepdims)


class Min(Max):
    """Min over axes (values only).  The gradient is shared evenly among tied minima."""

    name = "min"
    reduce = staticmethod(np.min)


class Prod(Function):
    """Product over axes.  Derivative: the product of the other elements (exact at zeros)."""

    name = "prod"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: Any, keepdims: bool) -> NDArray:
        ctx.axes = axes = normalize_axes("prod", axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.saved = (x,)
        return B.asarray(x.prod(axis=axes, keepdims=keepdims))

    @staticmethod
    def _others(x: Any, axes: tuple[int, ...]) -> Any:
        """prod over axes of the elements other than each one, same shape as x."""
        if isinstance(x, Tensor) and axes:
            return Prod._others_recorded(x, axes)
        xv = R.value(x)
        if not axes:
            return np.ones_like(xv)
        moved = np.moveaxis(xv, axes, range(-len(axes), 0))
        flat = moved.reshape((*moved.shape[: moved.ndim - len(axes)], -1))
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        return np.moveaxis(others, range(-len(axes), 0), axes)

    @staticmethod
    def _others_recorded(x: Tensor, axes: tuple[int, ...]) -> Tensor:
        """_others from recorded ops (differentiable, for higher order): the product of n
        copies of the n reduced elements, copy i with element i set to 1."""
        from chainrule.ops.elementwise import where
        from chainrule.ops.shape import transpose

        reduced = [a % x.ndim for a in axes]
        perm = [a for a in range(x.ndim) if a not in reduced] + reduced
        moved = transpose(x, perm)
        lead, rest = moved.shape[: x.ndim - len(axes)], moved.shape[x.ndim - len(axes):]
        n = int(np.prod(rest))
        copies = where(np.eye(n, dtype=bool), x.dtype.type(1), moved.reshape(*lead, 1, n))
        others = Prod.apply(copies, -1, False).reshape(*lead, *rest)
        return transpose(others, tuple(int(i) for i in np.argsort(perm)))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved
        return _expand(g, ctx.axes, ctx.keepdims) * Prod._others(x, ctx.axes)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        (x,) = ctx.saved
        return R.sum(dx * Prod._others(x, ctx.axes), axis=ctx.axes, keepdims=ctx.keepdims)


class LogSumExp(Function):
    """log(sum(exp x)) over axes, shifted by the max for stability.  Derivative: softmax x."""

    name = "logsumexp"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: Any, keepdims: bool) -> NDArray:
        ctx.axes = axes = normalize_axes("logsumexp", axis, x.ndim)
        ctx.keepdims = keepdims
        x = to_float(x)
        m = x.max(axis=axes, keepdims=True) if x.size else B.zeros((), x.dtype, x)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
        with np.errstate(divide="ignore"):
            out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
        if not keepdims:
            out = out.reshape([n for i, n in enumerate(x.shape) if i - x.ndim not in axes])
        ctx.saved = (x, out)  # the returned array, so a differentiable backward sees its graph
        return out

    @staticmethod
    def _softmax(ctx: Context) -> Any:
        x, out = ctx.saved
        return R.exp(x - _expand(out, ctx.axes, ctx.keepdims))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return _expand(g, ctx.axes, ctx.keepdims) * LogSumExp._softmax(ctx)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.sum(dx * LogSumExp._softmax(ctx), axis=ctx.axes, keepdims=ctx.keepdims)


class Softmax(Function):
    """exp(x - max) / sum.  Reverse: y * (g - sum(g*y)).  Forward: y * (dx - sum(dx*y))."""

    name = "softmax"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: int) -> NDArray:
        (ctx.axis,) = normalize_axes("softmax", axis, x.ndim) or (-1,)
        x = to_float(x)
        e = np.exp(x - x.max(axis=ctx.axis, keepdims=True))
        y = e / e.sum(axis=ctx.axis, keepdims=True)
        ctx.saved = (y,)
        return y

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved
        gy = g * y
        return gy - y * R.sum(gy, axis=ctx.axis, keepdims=True)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        (y,) = ctx.saved
        dy = dx * y
        return dy - y * R.sum(dy, axis=ctx.axis, keepdims=True)


class LogSoftmax(Function):
    """x - logsumexp(x).  Reverse: g - softmax * sum(g).  Forward: dx - sum(softmax * dx)."""

    name = "log_softmax"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, axis: int) -> NDArray:
        (ctx.axis,) = normalize_axes("log_softmax", axis, x.ndim) or (-1,)
        x = to_float(x)
        s = x - x.max(axis=ctx.axis, keepdims=True)
        y = s - np.log(np.exp(s).sum(axis=ctx.axis, keepdims=True))
        ctx.saved = (y,)
        return y

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved
        return g - R.exp(y) * R.sum(g, axis=ctx.axis, keepdims=True)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        (y,) = ctx.saved
        return dx - R.sum(R.exp(y) * dx, axis=ctx.axis, keepdims=True)


# ----- public functions -----
def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _axis(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


def _reducer(cls: Any, doc: str) -> Any:
    """The public function of reduction op cls: f(x, axis=None, keepdims=False, *, dim, keepdim)."""

    def reduce(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: bool | None = None) -> Tensor:
        return cls.apply(_t(x), _axis(axis, dim), keepdims if keepdim is None else keepdim)

    reduce.__name__ = reduce.__qualname__ = cls.name
    reduce.__doc__ = doc
    return reduce


sum = _reducer(Sum, "Sum over axis (all axes when None).")
max = _reducer(Max, "Max over axis (values only, as NumPy); ties share the gradient.")
min = _reducer(Min, "Min over axis (values only, as NumPy); ties share the gradient.")
prod = _reducer(Prod, "Product over axis.")
logsumexp = _reducer(LogSumExp, "log(sum(exp(x))) over axis, computed stably.")


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along axis, computed stably."""
    return Softmax.apply(_t(x), _axis(None if dim is not None else axis, dim))


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along axis, computed stably."""
    return LogSoftmax.apply(_t(x), _axis(None if dim is not None else axis, dim))


def mean(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Mean over axis."""
    x = _t(x)
    axes = normalize_axes("mean", _axis(axis, dim), x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    s = Sum.apply(x, axes, keepdims if keepdim is None else keepdim)
    return s * (1.0 / n) if n else s / 0.0


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int | None = None, *,
        dim: Any = None, keepdim: bool | None = None, correction: int | None = None) -> Tensor:
    """Variance over axis with ddof (alias correction), default 0 as NumPy."""
    x = _t(x)
    ddof = ddof if ddof is not None else (correction if correction is not None else 0)
    axes = normalize_axes("var", _axis(axis, dim), x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    d = x - mean(x, axes, keepdims=True)
    s = Sum.apply(d * d, axes, keepdims if keepdim is None else keepdim)
    return s * (1.0 / builtins.max(n - ddof, 0)) if n - ddof > 0 else s / 0.0


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int | None = None, *,
        dim: Any = None, keepdim: bool | None = None, correction: int | None = None) -> Tensor:
    """Standard deviation over axis with ddof (alias correction), default 0."""
    from chainrule.ops.elementwise import sqrt, where

    v = var(x, axis, keepdims, ddof, dim=dim, keepdim=keepdim, correction=correction)
    # a zero variance (one element, a constant input) has gradient 0, not 0 * inf (autograd's
    # and JAX's convention): the where sends sqrt an exact zero cotangent there
    return where(v == 0, 0.0, sqrt(v))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:
    """Indices of the maxima (int64, not differentiable)."""
    x = _t(x)
    ax = _axis(axis, dim)
    if ax is not None:
        ax = check_axis("argmax", ax, x.ndim)
    return values(partial(_indices, np.argmax, ax, keepdims if keepdim is None else keepdim), x)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:
    """Indices of the minima (int64, not differentiable)."""
    x = _t(x)
    ax = _axis(axis, dim)
    if ax is not None:
        ax = check_axis("argmin", ax, x.ndim)
    return values(partial(_indices, np.argmin, ax, keepdims if keepdim is None else keepdim), x)


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False,
                  dim: Any = None) -> Tensor:
    """The number of nonzero entries (over axis, or dim as torch.count_nonzero), int64, not
    differentiable."""
    a = _t(a)
    ax = _axis(axis, dim)
    if ax is not None:
        ax = check_axes("count_nonzero", (ax,) if np.ndim(ax) == 0 else ax, a.ndim)
    return values(partial(_count, ax, keepdims), a)


def _count(axis: Any, keepdims: bool, a: Any) -> Any:
    return B.asarray(np.count_nonzero(a, axis=axis, keepdims=keepdims)).astype(np.int64)


def _indices(fn: Any, axis: int | None, keepdims: bool, a: Any) -> Any:
    return B.asarray(fn(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


def all(a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Whether every entry is true over axis (all axes when None), as np.all: bool, not
    differentiable."""
    return _logical("all", np.all, a, _axis(axis, dim), out, keepdims, keepdim)


def any(a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Whether some entry is true over axis (all axes when None), as np.any: bool, not
    differentiable."""
    return _logical("any", np.any, a, _axis(axis, dim), out, keepdims, keepdim)


def _logical(name: str, fn: Any, a: Any, axis: Any, out: Any, keepdims: bool,
             keepdim: bool | None) -> Tensor:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (results are new Tensors)")
    a = _t(a)
    axes = normalize_axes(name, axis, a.ndim) if axis is not None else None
    return values(partial(fn, axis=axes, keepdims=keepdims if keepdim is None else keepdim), a)


def ptp(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Tensor:
    """Range (max - min) over axis, as np.ptp; the gradient goes to the max and the min."""
    a = _t(a)
    if out is not None:
        raise TypeError("ptp: out= is not supported (results are new Tensors)")
    if a.dtype.kind == "b":
        raise TypeError("ptp: numpy boolean subtract is not supported (ptp of a bool tensor)")
    axes = normalize_axes("ptp", axis, a.ndim)
    if a.size == 0 and builtins.any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"ptp: cannot reduce a zero-size axis of a tensor of shape {a.shape}")
    return Max.apply(a, axes, keepdims) - Min.apply(a, axes, keepdims)


amax = max
amin = min
