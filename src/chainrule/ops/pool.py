"""Pooling with PyTorch's semantics: max, average and adaptive average, over trailing axes.

Windows are strided views of the padded input, one per kernel offset, reduced with whole-array
NumPy calls (a loop over the few kernel offsets, never over positions). Max pooling keeps the
position of each maximum (the first in window order, as PyTorch); its derivatives move values
between the output and those positions. Average pooling is linear; its rules are the op and its
adjoint, which are each other's derivatives, so every order works.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff import function
from chainrule.autodiff.function import Context, Function
from chainrule.ops import rules as R
from chainrule.ops.conv import int_tuple, pad_trailing, scratch
from chainrule.ops.indexing import GetItem, Scatter
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


@dataclass(frozen=True, slots=True)
class PoolGeometry:
    """Windows of one pooling (one entry per pooled axis); pad_hi includes ceil_mode's extra."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_lo: tuple[int, ...]
    pad_hi: tuple[int, ...]
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]

    @property
    def nd(self) -> int:
        return len(self.kernel)

    def offsets(self) -> list[tuple[slice, ...]]:
        """For each kernel offset in window (row-major) order, its slices of the padded input."""
        per_axis = [[slice(k * d, k * d + (o - 1) * s + 1, s) for k in range(n)]
                    for n, d, o, s in zip(self.kernel, self.dilation, self.out_size, self.stride)]
        return [(Ellipsis, *sl) for sl in itertools.product(*per_axis)]


# ----- max pooling -----
def max_pool_forward(x: NDArray, geom: PoolGeometry) -> tuple[NDArray, NDArray]:
    """The window maxima and, for each, the kernel offset (row-major) where it is.

    Ties go to the first offset in window order; a NaN wins over numbers (the last NaN, as
    PyTorch); a window whose real values are all -inf points at its first real position.
    """
    win = _windows_by_offset(pad_trailing(x, geom.pad_lo, geom.pad_hi, -np.inf), geom)
    m = win[0].copy() if len(win) == 1 else np.maximum(win[0], win[1])
    for w in win[2:]:
        np.maximum(m, w, out=m)
    # arg = the number of leading offsets that do not hold the maximum
    arg = B.zeros(m.shape, np.uint8 if len(win) <= 256 else np.intp, m)
    missed = scratch("missed", m.shape, np.bool_, m)
    differs = scratch("differs", m.shape, np.bool_, m)
    np.not_equal(win[0], m, out=missed)
    for w in win[1:-1]:
        np.add(arg, missed, out=arg, casting="unsafe")
        np.not_equal(w, m, out=differs)
        missed &= differs
    if len(win) > 1:
        np.add(arg, missed, out=arg, casting="unsafe")
    if np.isnan(m).any():
        for k, w in enumerate(win):
            arg[np.isnan(w)] = k
    if any(geom.pad_lo) or any(geom.pad_hi):
        neg = np.isneginf(m)
        if neg.any():
            arg[neg] = B.like(np.broadcast_to(_first_real(geom), m.shape), m)[neg]
    return m, arg


def _windows_by_offset(xp: NDArray, geom: PoolGeometry) -> NDArray:
    """(K, *out): the window elements of each kernel offset, contiguous (in the "cols" slot),
    so that the reductions after this one strided copy run on contiguous rows."""
    offsets = geom.offsets()
    win = scratch("cols", (len(offsets), *xp.shape[:-geom.nd], *geom.out_size), xp.dtype, xp)
    for w, sl in zip(win, offsets):
        np.copyto(w, xp[sl])
    return win


def _first_real(geom: PoolGeometry) -> NDArray:
    """For each window, the offset of its first position inside the unpadded input."""
    first = np.zeros(geom.out_size, np.intp)
    kstride = 1
    for i in reversed(range(geom.nd)):
        start = np.arange(geom.out_size[i]) * geom.stride[i] - geom.pad_lo[i]
        k = np.clip(-(start // geom.dilation[i]), 0, geom.kernel[i] - 1)  # ceil(-start / d)
        first += (k * kstride).reshape((-1,) + (1,) * (geom.nd - 1 - i))
        kstride *= geom.kernel[i]
    return first


@functools.lru_cache(maxsize=16)
def _index_grid(geom: PoolGeometry, in_shape: tuple[int, ...]) -> tuple[NDArray, NDArray]:
    """Flat position in in_shape of each kernel offset relative to its window's start, and of
    each window's start (read-only; cached, as a training loop asks for the same ones)."""
    nd = geom.nd
    size = in_shape[-nd:]
    xs = [math.prod(size[i + 1:]) for i in range(nd)]
    kidx = np.indices(geom.kernel).reshape(nd, -1)
    disp = np.asarray(sum((kidx[i] * geom.dilation[i] - geom.pad_lo[i]) * xs[i]
                          for i in range(nd)), np.intp)
    lead = in_shape[:-nd]
    base = np.arange(math.prod(lead), dtype=np.intp).reshape(lead + (1,) * nd) * math.prod(size)
    for i in range(nd):
        pos = np.arange(geom.out_size[i]) * geom.stride[i] * xs[i]
        base = base + pos.reshape((-1,) + (1,) * (nd - 1 - i))
    disp.flags.writeable = base.flags.writeable = False
    return disp, base


def max_pool_index(arg: NDArray, geom: PoolGeometry, in_shape: tuple[int, ...]) -> NDArray:
    """Flat positions in an array of in_shape of the maxima whose offsets are arg."""
    disp, base = _index_grid(geom, in_shape)
    idx = B.like(disp, arg)[arg]
    idx += B.like(base, arg)
    if any(geom.pad_lo) or any(geom.pad_hi):  # only windows with no real position land outside
        np.clip(idx, 0, math.prod(in_shape) - 1, out=idx)
    return idx


def _overlap(geom: PoolGeometry) -> bool:
    return any(s < d * (k - 1) + 1 for s, d, k in zip(geom.stride, geom.dilation, geom.kernel))


def _spread_by_offset(parts: Any, geom: PoolGeometry, shape: tuple[int, ...],
                      dtype: Any, like: NDArray) -> NDArray:
    """An array of shape (..., *in_size) holding, for non-overlapping windows, each offset's
    part written at that offset's positions (and zero elsewhere); parts(k, out) fills one."""
    nd = geom.nd
    padded = any(geom.pad_lo) or any(geom.pad_hi)
    tiles = not padded and all(o * s == n and s == k for o, s, n, k in zip(
        geom.out_size, geom.stride, geom.in_size, geom.kernel))
    full = shape[:-nd] + tuple(n + a + b for n, a, b in zip(geom.in_size, geom.pad_lo,
                                                             geom.pad_hi))
    out = B.empty(full, dtype, like) if tiles else (scratch("pad", full, dtype, like) if padded
                                                    else B.zeros(full, dtype, like))
    if padded:
        out.fill(0)
    for k, sl in enumerate(geom.offsets()):
        parts(k, out[sl])
    if not padded:
        return out
    inner = (Ellipsis, *(slice(a, a + n) for a, n in zip(geom.pad_lo, geom.in_size)))
    return out[inner].copy()  # out is scratch: the result must be a fresh array


def max_pool_backward(g: NDArray, arg: NDArray, geom: PoolGeometry,
                      in_shape: tuple[int, ...]) -> NDArray:
    """The vjp of max pooling with non-overlapping windows, on ndarrays: each offset's
    positions get g where the maximum is there (no flat positions, no scatter)."""
    mask = scratch("mask", arg.shape, np.bool_, arg)

    def part(k: int, out: NDArray) -> None:
        np.equal(arg, k, out=mask)
        np.multiply(g, mask, out=out)

    return _spread_by_offset(part, geom, g.shape[:g.ndim - arg.ndim] + in_shape, g.dtype, g)


class MaxPool(Function):
    """y = the maximum of each window.

    Reverse: g added at the position of each maximum (overlapping windows accumulate).
    Forward: dx at the position of each maximum.
    """

    name = "max_pool"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, geom: PoolGeometry, found: Any = None) -> NDArray:
        m, arg = found if found is not None else max_pool_forward(x, geom)
        ctx.arg, ctx.geom, ctx.in_shape = arg, geom, x.shape
        return m

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        if not isinstance(g, Tensor) and not _overlap(ctx.geom):
            return max_pool_backward(g, ctx.arg, ctx.geom, ctx.in_shape)
        nb = ctx.batch
        lead = g.shape[:nb]
        idx = max_pool_index(ctx.arg, ctx.geom, ctx.in_shape).ravel()
        flat = R.reshape(g, (*lead, -1))
        gx = R.apply_op(Scatter, flat, (*lead, math.prod(ctx.in_shape)),
                        (slice(None),) * nb + (idx,))
        return R.reshape(gx, lead + ctx.in_shape)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        nb = ctx.batch
        lead = dx.shape[:nb]
        idx = max_pool_index(ctx.arg, ctx.geom, ctx.in_shape).ravel()
        out = R.apply_op(GetItem, R.reshape(dx, (*lead, -1)), (slice(None),) * nb + (idx,))
        return R.reshape(out, lead + ctx.arg.shape)


# ----- average pooling -----
def window_sum(x: NDArray, geom: PoolGeometry, scale: Any) -> NDArray:
    """scale * the sum of each (zero-padded) window of x's trailing axes."""
    win = _windows_by_offset(pad_trailing(x, geom.pad_lo, geom.pad_hi), geom)
    out = win[0].copy() if len(win) == 1 else np.add(win[0], win[1])
    for w in win[2:]:
        out += w
    out *= scale
    return out


def window_sum_adjoint(g: NDArray, geom: PoolGeometry, scale: Any) -> NDArray:
    """The adjoint of window_sum: scale * g added back over each window, padding dropped."""
    nd = geom.nd
    gs = g * scale
    shape = g.shape[:-nd] + geom.in_size
    if not _overlap(geom):
        return _spread_by_offset(lambda k, out: np.copyto(out, gs), geom, shape, gs.dtype, gs)
    padded = tuple(s + a + b for s, a, b in zip(geom.in_size, geom.pad_lo, geom.pad_hi))
    out = B.zeros(g.shape[:-nd] + padded, gs.dtype, gs)
    for sl in geom.offsets():
        out[sl] += gs
    inner = (Ellipsis, *(slice(a, a + s) for a, s in zip(geom.pad_lo, geom.in_size)))
    return B.contiguous(out[inner]) if any(geom.pad_lo) or any(geom.pad_hi) else out


class AvgPool(Function):
    """y = scale * the sum of each window (scale = 1 / divisor, per window).

    Reverse: AvgPoolAdjoint(g).  Forward: AvgPool(dx) (linear).
    """

    name = "avg_pool"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, geom: PoolGeometry, scale: Any) -> NDArray:
        ctx.geom, ctx.scale = geom, scale
        return window_sum(x, geom, scale)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(AvgPoolAdjoint, g, ctx.geom, ctx.scale)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(AvgPool, dx, ctx.geom, ctx.scale)


class AvgPoolAdjoint(Function):
    """x = scale * g added back over each window.  Reverse: AvgPool(k).  Forward: itself on dg."""

    name = "avg_pool_adjoint"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, g: NDArray, geom: PoolGeometry, scale: Any) -> NDArray:
        ctx.geom, ctx.scale = geom, scale
        return window_sum_adjoint(g, geom, scale)

    @staticmethod
    def vjp(ctx: Context, k: Any) -> Any:
        return R.apply_op(AvgPool, k, ctx.geom, ctx.scale)

    @staticmethod
    def jvp(ctx: Context, dg: Any) -> Any:
        return R.apply_op(AvgPoolAdjoint, dg, ctx.geom, ctx.scale)


# ----- adaptive average pooling: one averaging matrix per axis -----
def axis_linear(x: NDArray, mats: tuple[NDArray, ...]) -> NDArray:
    """x with each trailing axis i mapped by matrix mats[i] (out_i, in_i)."""
    nd = len(mats)
    for i, a in enumerate(mats):
        a = B.like(a, x)  # the constant matrices live on the host
        ax = x.ndim - nd + i
        if ax == x.ndim - 1:
            x = (x.reshape(-1, x.shape[-1]) @ a.T).reshape(*x.shape[:-1], a.shape[0])
        else:
            x = np.moveaxis(np.moveaxis(x, ax, -1) @ a.T, -1, ax)
    return B.contiguous(x)


class AxisLinear(Function):
    """y = x with trailing axis i multiplied by constant A_i.

    Reverse: the same with each A_i transposed.  Forward: the same on dx.
    """

    name = "axis_linear"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, mats: tuple[NDArray, ...]) -> NDArray:
        ctx.mats = mats
        return axis_linear(x, mats)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return R.apply_op(AxisLinear, g, tuple(np.ascontiguousarray(a.T) for a in ctx.mats))

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return R.apply_op(AxisLinear, dx, ctx.mats)


def adaptive_matrix(n_in: int, n_out: int, dtype: Any) -> NDArray:
    """Averaging matrix (n_out, n_in): row i averages inputs floor(i n/o) to ceil((i+1) n/o)."""
    a = np.zeros((n_out, n_in), dtype)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


# ----- geometry and the public functions -----
def _float_input(name: str, x: Any, nd: int) -> Tensor:
    x = x if isinstance(x, Tensor) else as_operand(x)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected a {nd + 1}-d (C, *S) or {nd + 2}-d (N, C, *S) input, "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got {x.dtype}")
    return x


def pool_geometry(name: str, shape: tuple[int, ...], nd: int, kernel_size: Any, stride: Any,
                  padding: Any, dilation: Any, ceil_mode: bool) -> PoolGeometry:
    """Check a pooling's arguments (as PyTorch) and work out its windows."""
    kernel = int_tuple(name, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None else int_tuple(name, "stride", stride, nd)
    padding = int_tuple(name, "padding", padding, nd)
    dilation = int_tuple(name, "dilation", dilation, nd)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{name}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be positive")
    if any(p < 0 or p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} should be at most half of kernel_size "
                         f"{kernel}")
    size = tuple(shape[-nd:])
    out, extra = [], []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if ceil_mode:
            o = -(-(n + 2 * p - span) // s) + 1
            if (o - 1) * s >= n + p:  # the last window must start inside the input or left pad
                o -= 1
        else:
            o = (n + 2 * p - span) // s + 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + span - (n + 2 * p)))
    if min(out) < 1:
        raise ValueError(f"{name}: input of shape {tuple(shape)} is too small for kernel_size "
                         f"{kernel} (dilation {dilation}, padding {padding}): output size "
                         f"{tuple(out)}")
    return PoolGeometry(kernel, stride, dilation, padding,
                        tuple(p + e for p, e in zip(padding, extra)), size, tuple(out))


def max_pool(x: Any, nd: int, kernel_size: Any, stride: Any = None, padding: Any = 0,
             dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False,
             name: str = "max_pool") -> Any:
    """Max over windows of x's trailing nd axes; with return_indices also each maximum's flat
    position within its (H*W...) plane, as PyTorch."""
    x = _float_input(name, x, nd)
    geom = pool_geometry(name, x.shape, nd, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return MaxPool.apply(x, geom)
    if function.traced():  # cr.compile, ONNX export: maxima found afresh each call
        return (MaxPool.apply(x, geom),
                function.values(functools.partial(max_pool_plane_index, geom), x))
    found = max_pool_forward(x._data, geom)
    return MaxPool.apply(x, geom, found), Tensor(max_pool_plane_index(geom, x._data, found))


def max_pool_plane_index(geom: PoolGeometry, x: NDArray, found: Any = None) -> NDArray:
    """Each maximum's flat position within its plane (int64), as PyTorch's return_indices."""
    arg = (found if found is not None else max_pool_forward(x, geom))[1]
    return (max_pool_index(arg, geom, x.shape) % math.prod(geom.in_size)).astype(np.int64)


def _divisor(geom: PoolGeometry, padding: tuple[int, ...], count_include_pad: bool,
             divisor_override: int | None, dtype: Any) -> Any:
    """1 / the number each window's sum is divided by, PyTorch's rule (a float or an array)."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool: divisor_override must be non-zero")
        return 1.0 / divisor_override
    counts = []
    for n, k, s, p, o in zip(geom.in_size, geom.kernel, geom.stride, padding, geom.out_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    div = counts[0]
    for c in counts[1:]:
        div = np.multiply.outer(div, c)
    if np.all(div == div.flat[0]):
        return 1.0 / float(div.flat[0])
    return (1.0 / div).astype(dtype)


def avg_pool(x: Any, nd: int, kernel_size: Any, stride: Any = None, padding: Any = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             divisor_override: int | None = None, name: str = "avg_pool") -> Tensor:
    """Mean over windows of x's trailing nd axes (zero padding counted unless
    count_include_pad=False; divisor_override replaces the count)."""
    x = _float_input(name, x, nd)
    geom = pool_geometry(name, x.shape, nd, kernel_size, stride, padding, 1, ceil_mode)
    scale = _divisor(geom, geom.pad_lo, count_include_pad, divisor_override, x.dtype)
    if not isinstance(scale, float):  # per-window divisors, on x's device, made from shapes
        scale = function.constant(B.like(scale, x._data))
    return AvgPool.apply(x, geom, scale)


def adaptive_avg_pool(x: Any, nd: int, output_size: Any, name: str = "adaptive_avg_pool"
                      ) -> Tensor:
    """Mean over the windows [floor(i S/O), ceil((i+1) S/O)) of each trailing axis (PyTorch)."""
    x = _float_input(name, x, nd)
    sizes = (output_size,) * nd if isinstance(output_size, int | np.integer | None) else tuple(
        output_size)
    if len(sizes) != nd:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {nd}, got "
                         f"{output_size!r}")
    sizes = tuple(n if o is None else int(o) for o, n in zip(sizes, x.shape[-nd:]))
    if min(sizes) < 0 or min(x.shape[-nd:]) < 1:  # an empty output, as PyTorch's
        raise ValueError(f"{name}: output_size {sizes} must not be negative and input of "
                         f"shape {x.shape} must not be empty")
    mats = tuple(adaptive_matrix(n, o, x.dtype) for n, o in zip(x.shape[-nd:], sizes))
    return AxisLinear.apply(x, mats)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over the last axis of (N, C, L) or (C, L), as PyTorch."""
    return max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    "max_pool1d")


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over the last two axes of (N, C, H, W) or (C, H, W), as PyTorch."""
    return max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    "max_pool2d")


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Average pooling over the last axis of (N, C, L) or (C, L), as PyTorch."""
    return avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                    "avg_pool1d")


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average pooling over the last two axes of (N, C, H, W) or (C, H, W), as PyTorch."""
    return avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, "avg_pool2d")


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Adaptive average pooling of the last axis to output_size, as PyTorch."""
    return adaptive_avg_pool(input, 1, output_size, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Adaptive average pooling of the last two axes to output_size (None keeps a size)."""
    return adaptive_avg_pool(input, 2, output_size, "adaptive_avg_pool2d")
