"""Padding, interpolation and pixel shuffling (PyTorch's F.pad, F.interpolate, ...).

Linear, bilinear, bicubic, trilinear and area interpolation are linear maps per axis: one
matrix per axis, built with PyTorch's source-index rule (in its precision: float32 for float32
input), applied by ops/pool.py's AxisLinear. Nearest interpolation and the reflect, replicate
and circular paddings pick elements by index arrays (differentiable getitem).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn.module import Module
from chainrule.ops.pool import AxisLinear, adaptive_matrix
from chainrule.tensor import Tensor, as_operand

__all__ = [
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "PixelShuffle",
    "PixelUnshuffle", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
    "ReplicationPad2d", "Unflatten", "Upsample", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d", "interpolate", "pad", "pixel_shuffle",
    "pixel_unshuffle", "upsample",
]

_PAD_MODES = ("constant", "reflect", "replicate", "circular")
_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2,
          "bicubic": 2, "trilinear": 3}


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


# ----- padding -----
def _pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source positions along an axis of size n padded by (lo, hi) (negative: cropped)."""
    if mode == "circular":  # crop first, then wrap around what is left (as PyTorch)
        kept = n + min(lo, 0) + min(hi, 0)
        return np.arange(-max(lo, 0), kept + max(hi, 0)) % kept + max(-lo, 0)
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(j)
    r = np.abs(j) % period
    return np.where(r >= n, period - r, r)


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad) // 2 axes, pad = (last_lo, last_hi, next_lo, ...); negative crops."""
    x = _t(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} ({pad})")
    nd = len(pad) // 2
    if nd > x.ndim:
        raise ValueError(f"pad: padding {pad} pads {nd} axes, more than the {x.ndim} of input "
                         f"of shape {x.shape}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(nd)][::-1]  # first padded axis first
    sizes = x.shape[x.ndim - nd:]
    out = tuple(n + lo + hi for n, (lo, hi) in zip(sizes, pairs))
    if min(out, default=1) < 0 or (mode != "constant" and min(out, default=1) < 1):
        raise ValueError(f"pad: padding {pad} of input of shape {x.shape} gives a non-positive "
                         f"output size {out}")
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(sizes, pairs))
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            x = ops.getitem(x, (Ellipsis, *crop))
        width = [(0, 0)] * (x.ndim - nd) + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
        if not any(lo or hi for lo, hi in width):
            return x if x is not input else ops.clone(x)
        return ops.pad(x, width, constant_values=0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} doesn't take a value argument, got {value}")
    if nd not in (1, 2, 3) or x.ndim not in (nd + 1, nd + 2):
        raise NotImplementedError(f"pad: mode {mode!r} pads the last 1, 2 or 3 axes of a "
                                  f"(N, C, ...) or (C, ...) input, got padding {pad} for input "
                                  f"of shape {x.shape}")
    for n, (lo, hi) in zip(sizes, pairs):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding {pad} must be smaller than the padded "
                             f"axes' sizes {sizes} (input of shape {x.shape})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding {pad} must be at most the padded axes' "
                             f"sizes {sizes} (input of shape {x.shape})")
    idx = [_pad_index(n, lo, hi, mode) for n, (lo, hi) in zip(sizes, pairs)]
    return ops.getitem(x, (Ellipsis, *np.ix_(*idx)))


# ----- interpolation -----
def _ftype(x: Tensor) -> Any:
    """PyTorch's opmath type for the index arithmetic: float32 input computes in float32."""
    return np.float32 if x.dtype == np.float32 else np.float64


def _scale(n_in: int, n_out: int, align_corners: bool, scale: float | None, ft: Any) -> Any:
    """PyTorch's area_pixel_compute_scale: output-to-input step."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(n_in: int, n_out: int, align_corners: bool, scale: float | None, ft: Any,
            cubic: bool) -> np.ndarray:
    """PyTorch's area_pixel_compute_source_index for each output position."""
    r = _scale(n_in, n_out, align_corners, scale, ft)
    i = np.arange(n_out).astype(ft)
    if align_corners:
        return r * i
    src = r * (i + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _linear_matrix(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                   ft: Any, dtype: Any) -> np.ndarray:
    """(n_out, n_in): each row mixes the two inputs around its source position."""
    if n_in == n_out:
        return np.eye(n_in, dtype=dtype)
    src = _source(n_in, n_out, align_corners, scale, ft, False)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    l1 = np.clip(src - i0.astype(ft), ft(0), ft(1))
    i1 = i0 + (i0 < n_in - 1)
    a = np.zeros((n_out, n_in), dtype)
    rows = np.arange(n_out)
    np.add.at(a, (rows, i0), ft(1) - l1)
    np.add.at(a, (rows, i1), l1)
    return a


def _cubic_matrix(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                  ft: Any, dtype: Any) -> np.ndarray:
    """(n_out, n_in): Keys' cubic convolution (A = -0.75) over 4 inputs, borders replicated."""
    src = _source(n_in, n_out, align_corners, scale, ft, True)
    x0 = np.floor(src)
    t = src - x0
    a = ft(-0.75)  # Keys' A, PyTorch's choice

    def near(s: np.ndarray) -> np.ndarray:
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s: np.ndarray) -> np.ndarray:
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((n_out, n_in), dtype)
    rows = np.arange(n_out)
    for k, w in enumerate(weights):
        np.add.at(m, (rows, np.clip(x0.astype(np.int64) - 1 + k, 0, n_in - 1)), w)
    return m


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool,
                   ft: Any) -> np.ndarray:
    """PyTorch's nearest (floor(i s)) or nearest-exact (floor((i + 1/2) s)) source indices."""
    if not exact and n_out == n_in:
        return np.arange(n_out)
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) >> 1
    r = _scale(n_in, n_out, False, scale, ft)
    i = np.arange(n_out).astype(ft)
    src = np.floor((i + ft(0.5)) * r if exact else i * r).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _sizes(name: str, x: Tensor, size: Any, scale_factor: Any, nd: int,
           recompute: bool | None) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """Output sizes and the scale factors the kernels use (None: derived from the sizes)."""
    spatial = x.shape[2:]
    if size is not None and scale_factor is not None:
        raise ValueError(f"{name}: only one of size ({size}) or scale_factor ({scale_factor}) "
                         "should be defined")
    if size is None and scale_factor is None:
        raise ValueError(f"{name}: either size or scale_factor should be defined")
    if size is not None:
        if recompute:
            raise ValueError(f"{name}: recompute_scale_factor is not meaningful with an "
                             "explicit size")
        sizes = tuple(size) if isinstance(size, list | tuple) else (size,) * nd
        if len(sizes) != nd:
            raise ValueError(f"{name}: size {size} does not match the {nd} spatial dimensions "
                             f"of input of shape {x.shape}")
        out = tuple(int(s) for s in sizes)
        scales: tuple[float | None, ...] = (None,) * nd
    else:
        sf = tuple(scale_factor) if isinstance(scale_factor, list | tuple) else (
            scale_factor,) * nd
        if len(sf) != nd:
            raise ValueError(f"{name}: scale_factor {scale_factor} does not match the {nd} "
                             f"spatial dimensions of input of shape {x.shape}")
        out = tuple(math.floor(n * float(s)) for n, s in zip(spatial, sf))
        scales = (None,) * nd if recompute else tuple(float(s) for s in sf)
    if min(out) < 1 or min(spatial) < 1:
        raise ValueError(f"{name}: input sizes {spatial} and output sizes {out} should be "
                         "greater than 0")
    return out, scales


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial axes of (N, C, ...) input to size, or by scale_factor (floored).

    Modes: nearest, nearest-exact, linear (3-d), bilinear and bicubic (4-d), trilinear (5-d),
    area (adaptive average pooling); the sampling positions are PyTorch's.
    """
    x = _t(input)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {tuple(_MODES)}, got {mode!r}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if _MODES[mode] is None:
        if align_corners is not None:
            raise ValueError(f"interpolate: align_corners can only be set with the "
                             f"interpolating modes linear | bilinear | bicubic | trilinear, "
                             f"not with mode {mode!r}")
    elif align_corners is None:
        align_corners = False
    nd = x.ndim - 2
    if not 1 <= nd <= 3:
        raise ValueError(f"interpolate: expected a 3-d, 4-d or 5-d (N, C, ...) input, got "
                         f"shape {x.shape}")
    want = _MODES[mode]
    if want is not None and want != nd:
        raise ValueError(f"interpolate: got {x.ndim}-d input (shape {x.shape}), but {mode} "
                         f"mode needs {want + 2}-d input")
    recompute = recompute_scale_factor or (mode == "area" and size is None)
    out, scales = _sizes("interpolate", x, size, scale_factor, nd, recompute)
    ins = x.shape[2:]
    ft = _ftype(x)
    if mode in ("nearest", "nearest-exact"):
        idx = [_nearest_index(n, o, s, mode == "nearest-exact", ft)
               for n, o, s in zip(ins, out, scales)]
        return ops.getitem(x, (Ellipsis, *np.ix_(*idx)))
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: mode {mode!r} needs a floating-point input, got {x.dtype}")
    if mode == "area":
        mats = tuple(adaptive_matrix(n, o, x.dtype) for n, o in zip(ins, out))
    elif mode == "bicubic":
        mats = tuple(_cubic_matrix(n, o, bool(align_corners), s, ft, x.dtype)
                     for n, o, s in zip(ins, out, scales))
    else:
        mats = tuple(_linear_matrix(n, o, bool(align_corners), s, ft, x.dtype)
                     for n, o, s in zip(ins, out, scales))
    return AxisLinear.apply(x, mats)


def upsample(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """interpolate under its old name."""
    return interpolate(input, size, scale_factor, mode, align_corners)


# ----- pixel shuffle -----
def _check_factor(name: str, x: Tensor, r: int) -> None:
    if x.ndim < 3:
        raise ValueError(f"{name}: expected an input of at least 3 dimensions (*, C, H, W), got "
                         f"shape {x.shape}")
    if r < 1:
        raise ValueError(f"{name}: the factor must be positive, got {r}")


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    x, r = _t(input), int(upscale_factor)
    _check_factor("pixel_shuffle", x, r)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: the channel axis of input of shape {x.shape} "
                         f"({c}) is not divisible by upscale_factor^2 = {r * r}")
    k = len(lead)
    y = ops.reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = ops.transpose(y, (*range(k), k, k + 3, k + 1, k + 4, k + 2))
    return ops.reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    x, r = _t(input), int(downscale_factor)
    _check_factor("pixel_unshuffle", x, r)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height and width of input of shape {x.shape} must "
                         f"be divisible by downscale_factor {r}")
    k = len(lead)
    y = ops.reshape(x, (*lead, c, h // r, r, w // r, r))
    y = ops.transpose(y, (*range(k), k, k + 2, k + 4, k + 1, k + 3))
    return ops.reshape(y, (*lead, c * r * r, h // r, w // r))


# ----- modules -----
class Upsample(Module):
    """interpolate with fixed size or scale_factor, mode and align_corners."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = (tuple(float(s) for s in scale_factor)
                             if isinstance(scale_factor, list | tuple)
                             else None if scale_factor is None else float(scale_factor))
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) with align_corners=True (as PyTorch's)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _Pad(Module):
    """Padding of the last nd axes with one mode (padding: an int or 2 nd ints)."""

    nd = 1
    mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        n = 2 * self.nd
        p = (int(padding),) * n if isinstance(padding, int | np.integer) else tuple(
            int(v) for v in padding)
        if len(p) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {n} ints, got "
                             f"{padding!r}")
        self.padding = p
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self.value else "")


class ConstantPad1d(_Pad):
    """Pad the last axis with value."""

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(ConstantPad1d):
    """Pad the last two axes with value."""

    nd = 2


class ZeroPad1d(_Pad):
    """Pad the last axis with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """Pad the last two axes with zeros."""

    nd = 2


class ReflectionPad1d(ZeroPad1d):
    """Pad the last axis with its reflection (edge not repeated)."""

    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Pad the last two axes with their reflection."""

    nd = 2


class ReplicationPad1d(ZeroPad1d):
    """Pad the last axis by repeating its edge values."""

    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Pad the last two axes by repeating their edge values."""

    nd = 2


class CircularPad1d(ZeroPad1d):
    """Pad the last axis by wrapping around."""

    mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pad the last two axes by wrapping around."""

    nd = 2


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Unflatten(Module):
    """Split axis dim into unflattened_size (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        x = _t(input)
        d = self.dim % x.ndim if x.ndim else 0
        return ops.reshape(x, x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
