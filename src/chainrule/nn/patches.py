"""Sliding blocks: unfold (im2col) and its adjoint fold (col2im), as PyTorch's.

unfold picks each block's elements by index arrays (differentiable getitem); fold adds them
back with the scatter that is getitem's transpose, so each is the other's derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn.module import Module
from chainrule.ops.indexing import Scatter
from chainrule.tensor import Tensor, as_operand

__all__ = ["Fold", "Unfold", "fold", "unfold"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _pair(name: str, what: str, v: Any, low: int) -> tuple[int, int]:
    p = (int(v), int(v)) if isinstance(v, int | np.integer) else tuple(int(i) for i in v)
    if len(p) != 2 or min(p) < low:
        raise ValueError(f"{name}: {what} must be an int or a pair of ints >= {low}, got {v!r}")
    return p  # type: ignore[return-value]


def _patch_index(name: str, size: tuple[int, int], kernel_size: Any, dilation: Any,
                 padding: Any, stride: Any) -> tuple[tuple, tuple[int, int], tuple[int, int]]:
    """Index arrays (kh, kw, oh, ow) into the padded plane, the padding and the block counts."""
    k = _pair(name, "kernel_size", kernel_size, 1)
    d = _pair(name, "dilation", dilation, 1)
    p = _pair(name, "padding", padding, 0)
    s = _pair(name, "stride", stride, 1)
    blocks = tuple((n + 2 * pi - di * (ki - 1) - 1) // si + 1
                   for n, ki, di, pi, si in zip(size, k, d, p, s))
    if min(blocks) < 1:
        raise ValueError(f"{name}: spatial size {size} with kernel_size {k}, dilation {d}, "
                         f"padding {p} and stride {s} gives no blocks ({blocks})")
    rows = np.arange(k[0])[:, None] * d[0] + np.arange(blocks[0])[None, :] * s[0]
    cols = np.arange(k[1])[:, None] * d[1] + np.arange(blocks[1])[None, :] * s[1]
    idx = (rows[:, None, :, None], cols[None, :, None, :])
    return idx, p, blocks  # type: ignore[return-value]


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Sliding blocks (im2col): (N, C, H, W) -> (N, C kh kw, L), one column per block."""
    x = _t(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"unfold: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got "
                         f"shape {x.shape}")
    idx, p, blocks = _patch_index("unfold", x.shape[-2:], kernel_size, dilation, padding, stride)
    if any(p):
        x = ops.pad(x, [(0, 0)] * (x.ndim - 2) + [(p[0], p[0]), (p[1], p[1])])
    cols = ops.getitem(x, (Ellipsis, *idx))  # (..., C, kh, kw, oh, ow)
    lead = cols.shape[:-4]
    return ops.reshape(cols, (*lead[:-1], lead[-1] * idx[0].shape[0] * idx[1].shape[1],
                              blocks[0] * blocks[1]))


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """The adjoint of unfold (col2im): sum the blocks' columns back into (N, C, H, W)."""
    x = _t(input)
    size = _pair("fold", "output_size", output_size, 1)
    idx, p, blocks = _patch_index("fold", size, kernel_size, dilation, padding, stride)
    kh, kw = idx[0].shape[0], idx[1].shape[1]
    if x.ndim not in (2, 3) or x.shape[-2] % (kh * kw) or x.shape[-1] != blocks[0] * blocks[1]:
        raise ValueError(f"fold: expected a (N, C * {kh * kw}, {blocks[0] * blocks[1]}) or "
                         f"(C * {kh * kw}, {blocks[0] * blocks[1]}) input for output_size "
                         f"{size}, got shape {x.shape}")
    lead = x.shape[:-2]
    c = x.shape[-2] // (kh * kw)
    cols = ops.reshape(x, (*lead, c, kh, kw, *blocks))
    padded = (*lead, c, size[0] + 2 * p[0], size[1] + 2 * p[1])
    out = Scatter.apply(cols, padded, (Ellipsis, *idx))
    if any(p):
        out = ops.getitem(out, (Ellipsis, slice(p[0], p[0] + size[0]),
                                slice(p[1], p[1] + size[1])))
    return out


class Unfold(Module):
    """Sliding blocks of (N, C, H, W) as columns (im2col)."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                      padding, stride)

    def forward(self, input: Tensor) -> Tensor:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """Columns of blocks summed back into (N, C, H, W) (col2im)."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)
