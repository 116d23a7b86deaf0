"""cr.fft: the parts of np.fft whose outputs stay real (complex dtypes are not supported)."""

from __future__ import annotations

from typing import Any

from chainrule.ops.shape_more import roll
from chainrule.tensor import Tensor, as_operand

__all__ = ["fftshift", "ifftshift"]


def _shifts(x: Tensor, axes: Any, sign: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(axes)
    return tuple(sign * (x.shape[a] // 2) for a in axes), axes


def fftshift(x: Any, axes: Any = None) -> Tensor:
    """The zero frequency moved to the centre (a roll by n // 2 per axis), differentiable."""
    x = as_operand(x)
    shift, axes = _shifts(x, axes, 1)
    return roll(x, shift, axes) if axes else x


def ifftshift(x: Any, axes: Any = None) -> Tensor:
    """The inverse of fftshift (a roll by -(n // 2) per axis), differentiable."""
    x = as_operand(x)
    shift, axes = _shifts(x, axes, -1)
    return roll(x, shift, axes) if axes else x
