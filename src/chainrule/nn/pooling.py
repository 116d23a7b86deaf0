"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d,
LPPool1d/2d and MaxUnpool1d/2d (PyTorch's arguments)."""

from __future__ import annotations

from typing import Any

from chainrule.nn.module import Module
from chainrule.ops import pool as P
from chainrule.ops import pool_more as PM
from chainrule.ops.conv import int_tuple
from chainrule.tensor import Tensor

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "AvgPool1d", "AvgPool2d", "LPPool1d", "LPPool2d", "MaxPool1d", "MaxPool2d",
           "MaxUnpool1d", "MaxUnpool2d"]


class _MaxPoolNd(Module):
    """The maximum of each window (stride defaults to kernel_size; padding is -inf)."""

    _nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x: Any) -> Any:
        return P.max_pool(x, self._nd, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices, type(self).__name__.lower())

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max pooling over the last axis of (N, C, L) or (C, L)."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2


class _AvgPoolNd(Module):
    """The mean of each window (zero padding counted unless count_include_pad=False)."""

    _nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        return P.avg_pool(x, self._nd, self.kernel_size, self.stride, self.padding,
                          self.ceil_mode, self.count_include_pad, self.divisor_override,
                          type(self).__name__.lower())

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}")


class AvgPool1d(_AvgPoolNd):
    """Average pooling over the last axis of (N, C, L) or (C, L)."""

    _nd = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average pooling over the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2


class _AdaptiveAvgPoolNd(Module):
    """Average pooling to a fixed output size, PyTorch's windows [floor(i S/O), ceil((i+1) S/O))."""

    _nd = 0

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return P.adaptive_avg_pool(x, self._nd, self.output_size, type(self).__name__.lower())

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling of the last axis of (N, C, L) or (C, L)."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling of the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2


class _AdaptiveMaxPoolNd(Module):
    """Max pooling to a fixed output size, PyTorch's windows [floor(i S/O), ceil((i+1) S/O))."""

    _nd = 0

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return PM.adaptive_max_pool(input, self._nd, self.output_size, self.return_indices,
                                    type(self).__name__.lower())

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of the last axis of (N, C, L) or (C, L)."""

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2


class _LPPoolNd(Module):
    """(sum of x^p over each window)^(1/p) (stride defaults to kernel_size; no padding)."""

    _nd = 0

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> Tensor:
        return PM.lp_pool(input, self._nd, self.norm_type, self.kernel_size, self.stride,
                          self.ceil_mode, type(self).__name__.lower())

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over the last axis of (N, C, L) or (C, L)."""

    _nd = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling over the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2


class _MaxUnpoolNd(Module):
    """Zeros with each input value written at its index: max pooling's partial inverse."""

    _nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = int_tuple(name, "kernel_size", kernel_size, self._nd)
        self.stride = (self.kernel_size if stride is None
                       else int_tuple(name, "stride", stride, self._nd))
        self.padding = int_tuple(name, "padding", padding, self._nd)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Tensor:
        return PM.max_unpool(input, indices, self._nd, self.kernel_size, self.stride,
                             self.padding, output_size, type(self).__name__.lower())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Max unpooling of the last axis of (N, C, L) or (C, L)."""

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Max unpooling of the last two axes of (N, C, H, W) or (C, H, W)."""

    _nd = 2
