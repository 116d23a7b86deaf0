"""Pooling composed from other ops: adaptive max, power-average (LP) and max unpooling.

Each is built from differentiable ops (indexing, avg_pool, pow, where), so reverse mode, forward
mode and every order come from their rules; only the positions of the maxima are found outside
the graph (through ``function.values``, so cr.compile recomputes them on each replay).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff import function
from chainrule.ops import elementwise as E
from chainrule.ops import indexing as I
from chainrule.ops import shape as S
from chainrule.ops.conv import int_tuple
from chainrule.ops.pool import _float_input, avg_pool, max_pool
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


# ----- adaptive max pooling -----
def _bins(n_in: int, n_out: int) -> NDArray:
    """(n_out, K): the input positions of each output bin, [floor(i n/o), ceil((i+1) n/o)),
    the last one repeated up to the widest bin's K (a repeat changes neither the maximum nor
    where it first is)."""
    i = np.arange(n_out)
    start = (i * n_in) // n_out
    end = -(-((i + 1) * n_in) // n_out)
    k = int((end - start).max()) if n_out else 1
    return np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)


@functools.lru_cache(maxsize=32)
def _bin_positions(size: tuple[int, ...], out: tuple[int, ...]) -> NDArray:
    """(prod(out), K): the flat in-plane positions of each bin's elements, row-major within
    the bin (read-only; cached, as a training loop asks for the same ones)."""
    nd = len(size)
    bins = [_bins(n, o) for n, o in zip(size, out)]
    pos: Any = 0
    stride = 1
    for i in reversed(range(nd)):
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = bins[i].shape
        pos = pos + bins[i].reshape(shape) * stride
        stride *= size[i]
    pos = np.asarray(pos, np.int64).reshape(math.prod(out), math.prod(b.shape[1] for b in bins))
    pos.flags.writeable = False
    return pos


def adaptive_max_positions(out: tuple[int, ...], x: NDArray) -> NDArray:
    """Flat positions in x of the maximum of each adaptive bin of x's trailing len(out) axes,
    shape (..., *out): the first maximum in row-major order, a NaN over numbers (the last NaN),
    a bin of -inf its first position (PyTorch's rules)."""
    nd = len(out)
    lead, size = x.shape[:-nd], x.shape[-nd:]
    plane, n_out = math.prod(size), math.prod(out)
    pos = B.like(_bin_positions(size, out), x)
    win = x.reshape(-1, plane)[:, pos]  # (L, n_out, K)
    arg = win.argmax(-1)
    nan = np.isnan(win)
    if nan.any():
        last = win.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
        arg = np.where(nan.any(-1), last, arg)
    found = pos[B.like(np.arange(n_out), x), arg]  # in-plane positions, (L, n_out)
    found += B.like(np.arange(found.shape[0], dtype=np.int64)[:, None] * plane, x)
    return found.reshape(lead + out)


def adaptive_sizes(name: str, shape: tuple[int, ...], nd: int, output_size: Any
                   ) -> tuple[int, ...]:
    """output_size (an int, or nd ints or Nones, None keeping the input's size) as nd ints."""
    sizes = (output_size,) * nd if isinstance(output_size, int | np.integer | None) else tuple(
        output_size)
    if len(sizes) != nd or not all(o is None or isinstance(o, int | np.integer) for o in sizes):
        raise ValueError(f"{name}: output_size must be an int or a tuple of {nd} ints (or "
                         f"None), got {output_size!r}")
    sizes = tuple(n if o is None else int(o) for o, n in zip(sizes, shape[-nd:]))
    if min(sizes) < 0:
        raise ValueError(f"{name}: output_size {sizes} must not be negative")
    if min(shape[-nd:]) < 1:
        raise ValueError(f"{name}: expected an input with non-zero sizes in its pooled axes, "
                         f"got shape {shape}")
    return sizes


def adaptive_max_pool(x: Any, nd: int, output_size: Any, return_indices: bool = False,
                      name: str = "adaptive_max_pool") -> Any:
    """The maximum over the bins [floor(i S/O), ceil((i+1) S/O)) of each trailing axis; with
    return_indices also each maximum's flat position within its plane (int64, as PyTorch).
    Gradients go to the position of each maximum."""
    x = _float_input(name, x, nd)
    out = adaptive_sizes(name, x.shape, nd, output_size)
    where = function.values(functools.partial(adaptive_max_positions, out), x)
    y = I.getitem(S.reshape(x, (-1,)), where)
    if not return_indices:
        return y
    return y, where % math.prod(x.shape[-nd:])


# ----- power-average pooling -----
def lp_pool(x: Any, nd: int, norm_type: float, kernel_size: Any, stride: Any = None,
            ceil_mode: bool = False, name: str = "lp_pool") -> Tensor:
    """(sum of x^p over each window)^(1/p), as PyTorch computes it: avg_pool(x^p) times the
    window's area, to the power 1/p; p = inf is the max of |x|, p = -inf its min."""
    x = _float_input(name, x, nd)
    kernel = int_tuple(name, "kernel_size", kernel_size, nd)
    p = float(norm_type)
    if p == 0 or math.isnan(p):
        raise ValueError(f"{name}: norm_type must be non-zero, got {norm_type}")
    if math.isinf(p):
        a = E.abs(x)
        if p > 0:
            return max_pool(a, nd, kernel, stride, 0, 1, ceil_mode, False, name)
        return -max_pool(-a, nd, kernel, stride, 0, 1, ceil_mode, False, name)
    avg = avg_pool(x**norm_type, nd, kernel, stride, 0, ceil_mode, True, None, name)
    y = (avg * math.prod(kernel)) ** (1.0 / p)
    # PyTorch takes sign(avg) * relu(|avg|) (the value avg) first: the gradient is 0 where
    # the average is 0, not pow's infinite slope there
    return E.where(avg == 0, y.detach(), y)


# ----- max unpooling -----
def unpool_size(name: str, shape: tuple[int, ...], kernel: tuple[int, ...],
                stride: tuple[int, ...], padding: tuple[int, ...], output_size: Any
                ) -> tuple[int, ...]:
    """The unpooled sizes: (in - 1) stride - 2 padding + kernel per axis, or output_size
    (its trailing nd entries) when it lies strictly within stride of that (PyTorch's rule)."""
    nd = len(kernel)
    default = tuple((n - 1) * s - 2 * p + k
                    for n, k, s, p in zip(shape[-nd:], kernel, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(int(o) for o in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{name}: output_size should be a sequence of {nd} or {nd + 2} "
                             f"ints, got {tuple(output_size)}")
        for d, (o, n, s) in enumerate(zip(size, default, stride)):
            if not n - s < o < n + s:
                raise ValueError(f"{name}: invalid output_size {size} (dim {d} must be between "
                                 f"{n - s} and {n + s})")
    if min(size) < 0:
        raise ValueError(f"{name}: output size {size} must not be negative")
    return size


def _check_indices(name: str, plane: int, size: tuple[int, ...], idx: Any) -> None:
    idx = idx._data if isinstance(idx, Tensor) else idx  # a replay may pass the array
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx[(idx < 0) | (idx >= plane)].flat[0]
        raise IndexError(f"{name}: found an invalid max index {int(bad)} (output planes are of "
                         f"size {'x'.join(map(str, size))})")


def max_unpool(x: Any, indices: Any, nd: int, kernel_size: Any, stride: Any = None,
               padding: Any = 0, output_size: Any = None, name: str = "max_unpool") -> Tensor:
    """Zeros with x written at indices (flat positions within each output plane, as max
    pooling's return_indices gives them): the partial inverse of max pooling."""
    x = _float_input(name, x, nd)
    idx = indices if isinstance(indices, Tensor) else as_operand(B.asarray(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got {idx.dtype}")
    if tuple(idx.shape) != x.shape:
        raise ValueError(f"{name}: indices of shape {tuple(idx.shape)} do not match input of "
                         f"shape {x.shape}")
    kernel = int_tuple(name, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None else int_tuple(name, "stride", stride, nd)
    padding = int_tuple(name, "padding", padding, nd)
    size = unpool_size(name, x.shape, kernel, stride, padding, output_size)
    plane = math.prod(size)
    lead = x.shape[:-nd]
    function.library_call(functools.partial(_check_indices, name, plane, size), idx)
    base = np.arange(math.prod(lead), dtype=np.int64).reshape(lead + (1,) * nd) * plane
    where = idx + function.constant(B.like(base, x._data))  # flat positions in the output
    zeros = Tensor(function.constant(B.zeros((math.prod(lead) * plane,), x.dtype, x._data)))
    return S.reshape(I.index_put(zeros, where, x), lead + size)


# ----- PyTorch's functions -----
def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling of the last axis of (N, C, L) or (C, L), as PyTorch."""
    return adaptive_max_pool(input, 1, output_size, return_indices, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive max pooling of the last two axes of (N, C, H, W) or (C, H, W) (None keeps a
    size), as PyTorch."""
    return adaptive_max_pool(input, 2, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool1d_with_indices(input: Any, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """adaptive_max_pool1d's values and indices (return_indices is ignored, as PyTorch)."""
    return adaptive_max_pool(input, 1, output_size, True, "adaptive_max_pool1d")


def adaptive_max_pool2d_with_indices(input: Any, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """adaptive_max_pool2d's values and indices (return_indices is ignored, as PyTorch)."""
    return adaptive_max_pool(input, 2, output_size, True, "adaptive_max_pool2d")


def lp_pool1d(input: Any, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over the last axis of (N, C, L) or (C, L), as PyTorch."""
    return lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode, "lp_pool1d")


def lp_pool2d(input: Any, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over the last two axes of (N, C, H, W) or (C, H, W), as PyTorch."""
    return lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode, "lp_pool2d")


def max_unpool1d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """The partial inverse of max_pool1d on (N, C, L) or (C, L), as PyTorch."""
    return max_unpool(input, indices, 1, kernel_size, stride, padding, output_size,
                      "max_unpool1d")


def max_unpool2d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """The partial inverse of max_pool2d on (N, C, H, W) or (C, H, W), as PyTorch."""
    return max_unpool(input, indices, 2, kernel_size, stride, padding, output_size,
                      "max_unpool2d")
