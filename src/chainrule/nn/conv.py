"""Convolution layers, plain and transposed (PyTorch's parameter names, shapes and init)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops import conv as C
from chainrule.ops import conv_transpose as CT
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]



class _ConvNd(Module):
    """Shared by the plain and transposed layers: options, parameters and PyTorch's init.

    weight ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
    weight.shape[1] * prod(kernel_size), and bias from the same range (as PyTorch).
    """

    _nd = 0
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, output_padding: Any, groups: int, bias: bool,
                 padding_mode: str, device: Any, dtype: Any) -> None:
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        as_device(device, name)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode {padding_mode!r} is not supported "
                             "(only 'zeros')")
        if isinstance(padding, str) and not self.transposed:
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and C.int_tuple(name, "stride", stride, nd) != (1,) * nd:
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
        else:
            padding = C.int_tuple(name, "padding", padding, nd)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = C.int_tuple(name, "kernel_size", kernel_size, nd)
        self.stride = C.int_tuple(name, "stride", stride, nd)
        self.padding = padding
        self.dilation = C.int_tuple(name, "dilation", dilation, nd)
        self.output_padding = C.int_tuple(name, "output_padding", output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        dt = get_default_dtype() if dtype is None else dtype
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups))
        self.weight = Parameter(np.empty((*shape, *self.kernel_size), dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights and bias from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    """Cross-correlation of (N, C_in, *S) inputs with weight (C_out, C_in/groups, *kernel_size)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x: Any) -> Tensor:
        return C.conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups, type(self).__name__.lower())


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L) or (C_in, L): weight (C_out, C_in/groups, k)."""

    _nd = 1


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W) or (C_in, H, W): weight (C_out, C_in/groups, kH, kW)."""

    _nd = 2


class _ConvTranspose(_ConvNd):
    """Transposed convolution of (N, C_in, *S) inputs with weight (C_in, C_out/groups, *kernel):
    the gradient of a convolution with respect to its input. Output size per axis
    (S-1) stride - 2 padding + dilation (k-1) + output_padding + 1."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input: Any, output_size: Any = None) -> Tensor:
        """The transposed convolution; output_size (spatial sizes, optionally with N and C)
        picks the output_padding, as PyTorch's, among the sizes the stride allows."""
        name = type(self).__name__.lower().replace("convtranspose", "conv_transpose")
        out_pad = self.output_padding
        if output_size is not None:
            shape = tuple(input.shape)
            in_size = shape[1:] if len(shape) == self._nd + 1 else shape[2:]
            out_pad = CT.output_padding_for(name, in_size, output_size, self.stride,
                                            self.padding, self.kernel_size, self.dilation)
        return CT.conv_transpose(input, self.weight, self.bias, self.stride, self.padding,
                                 out_pad, self.groups, self.dilation, name)


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution over (N, C_in, L) or (C_in, L): weight (C_in, C_out/groups, k)."""

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution over (N, C_in, H, W) or (C_in, H, W): weight
    (C_in, C_out/groups, kH, kW)."""

    _nd = 2
