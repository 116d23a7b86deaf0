"""Transposed convolution with PyTorch's semantics, as one op over ops/conv.py's kernels.

    conv_transpose(x, w) = conv_input_grad(x, w): the adjoint in its input of the convolution
    whose input has the transposed output's shape and whose output has x's shape, w (C_in,
    C_out/G, *K) being that convolution's (O, C/G, *K) weight.

So the forward kernel, the geometry and every derivative are ops/conv.py's: the derivatives of
a transposed convolution are convolutions, weight gradients and transposed convolutions again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autodiff.function import _apply
from chainrule.dtypes import result_dtype
from chainrule.ops.conv import (
    Conv,
    ConvGeometry,
    conv_batched_x,
    conv_input_grad_forward,
    input_grad_batched_g,
    input_grad_batched_w,
    int_tuple,
    weight_grad_batched_x,
)
from chainrule.ops.elementwise import astype
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


class ConvTranspose(Conv):
    """y = conv_input_grad(x, w) + b, the transposed convolution.

    Reverse: (conv(g, w), conv_weight_grad(g, x), sum of g over N and space).
    Forward: conv_transpose(dx, w) + conv_transpose(x, dw) + db (bilinear in x and w).
    """

    name = "conv_transpose"

    @staticmethod
    def kernel(x: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
        """The op on ndarrays, without bias: conv's input-gradient kernel."""
        return conv_input_grad_forward(x, w, geom)

    @staticmethod
    def grads(g: Any, x: Any, w: Any, geom: ConvGeometry, nb: int, need: tuple) -> tuple:
        """Cotangents of x (a convolution of g) and w."""
        return (conv_batched_x(g, w, geom, nb) if need[0] else None,
                weight_grad_batched_x(g, x, geom, nb) if need[1] else None)

    @staticmethod
    def tangent(dx: Any, dw: Any, x: Any, w: Any, geom: ConvGeometry, nb: int) -> Any:
        """The output tangent (bilinear in x and w)."""
        return input_grad_batched_g(dx, w, geom, nb) + input_grad_batched_w(x, dw, geom, nb)


# ----- geometry and the public functions -----
def conv_transpose_geometry(name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                            stride: Any, padding: Any, output_padding: Any, dilation: Any,
                            groups: int) -> ConvGeometry:
    """Check a transposed convolution's arguments (as PyTorch) and work out the geometry of
    the convolution it is the adjoint of: output (S-1)s - 2p + d(K-1) + output_padding + 1."""
    nd = len(w_shape) - 2
    if len(x_shape) != nd + 2:
        raise ValueError(f"{name}: expected an input of {nd + 2} dimensions (N, C, ...) for "
                         f"weight of shape {w_shape}, got input of shape {x_shape}")
    stride = int_tuple(name, "stride", stride, nd)
    dilation = int_tuple(name, "dilation", dilation, nd)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints, got "
                         f"{padding!r}")
    pad = int_tuple(name, "padding", padding, nd)
    out_pad = int_tuple(name, "output_padding", output_padding, nd)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{name}: stride {stride} and dilation {dilation} must be positive")
    if min(pad) < 0 or min(out_pad) < 0:
        raise ValueError(f"{name}: padding {pad} and output_padding {out_pad} must be "
                         "non-negative")
    if any(op >= s and op >= d for op, s, d in zip(out_pad, stride, dilation)):
        raise ValueError(f"{name}: output_padding {out_pad} must be smaller than either stride "
                         f"{stride} or dilation {dilation}")
    if not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    c, _, *ks = w_shape
    if c % groups:
        raise ValueError(f"{name}: weight of shape {w_shape} has {c} input channels, not "
                         f"divisible by groups={groups}")
    if x_shape[1] != c:
        raise ValueError(f"{name}: input of shape {x_shape} has {x_shape[1]} channels, but weight "
                         f"of shape {w_shape} expects {c}")
    size = tuple(x_shape[2:])
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                for n, s, p, d, k, op in zip(size, stride, pad, dilation, ks, out_pad))
    if min(size, default=1) < 1 or min(out, default=1) < 1:
        raise ValueError(f"{name}: input of shape {x_shape} with weight of shape {w_shape}, "
                         f"stride {stride}, padding {pad}, dilation {dilation} and "
                         f"output_padding {out_pad} gives an output of size {out}, which is "
                         "too small")
    return ConvGeometry(stride, dilation, pad, pad, int(groups), out, tuple(ks), size)


def output_padding_for(name: str, in_size: tuple[int, ...], output_size: Any, stride: Any,
                       padding: Any, kernel_size: Any, dilation: Any) -> tuple[int, ...]:
    """The output_padding that makes a transposed convolution's output output_size (its
    spatial sizes, optionally after N and C), as PyTorch's ConvTranspose forward does."""
    nd = len(in_size)
    sizes = [int(n) for n in output_size]
    if len(sizes) in (nd + 1, nd + 2):
        sizes = sizes[-nd:]
    if len(sizes) != nd:
        raise ValueError(f"{name}: output_size must have {nd} elements (or {nd + 2} with N "
                         f"and C), got {tuple(output_size)}")
    st, pd, ks, dl = (int_tuple(name, w, v, nd) for w, v in (
        ("stride", stride), ("padding", padding), ("kernel_size", kernel_size),
        ("dilation", dilation)))
    lo = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(in_size, st, pd, dl, ks)]
    hi = [m + s - 1 for m, s in zip(lo, st)]
    if any(not a <= n <= b for n, a, b in zip(sizes, lo, hi)):
        raise ValueError(f"{name}: requested an output size of {sizes}, but valid sizes range "
                         f"from {lo} to {hi} (for an input of {tuple(in_size)})")
    return tuple(n - a for n, a in zip(sizes, lo))


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def conv_transpose(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                   output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
                   name: str | None = None) -> Tensor:
    """N-d transposed convolution of x (N, C_in, *S) or (C_in, *S) with weight
    (C_in, C_out/G, *K): (N, C_out, *out), out = (S-1)s - 2p + d(K-1) + output_padding + 1."""
    x, weight = _t(x), _t(weight)
    nd = weight.ndim - 2
    name = name or f"conv_transpose{nd}d"
    if weight.ndim < 3:
        raise ValueError(f"{name}: weight must have at least 3 dimensions (C_in, C_out/G, *K), "
                         f"got shape {weight.shape}")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = reshape(x, (1, *x.shape))
    geom = conv_transpose_geometry(name, x.shape, weight.shape, stride, padding, output_padding,
                                   dilation, groups)
    if x.dtype.kind != "f" or weight.dtype.kind != "f":  # integers: NumPy's promotion, as conv
        dt = result_dtype(x._data, weight._data, *([] if bias is None else [_t(bias)._data]))
        x, weight = astype(x, dt), astype(weight, dt)
        bias = None if bias is None else astype(bias, dt)
    if bias is None:
        y = _apply(ConvTranspose, (x, weight), (geom,))
    else:
        c_out = weight.shape[1] * geom.groups
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{name}: bias of shape {tuple(bias.shape)} does not match weight "
                             f"of shape {weight.shape} with groups={groups} ({c_out} output "
                             "channels)")
        y = _apply(ConvTranspose, (x, weight, bias), (geom,))
    return reshape(y, y.shape[1:]) if unbatched else y


def _check_nd(name: str, weight: Any, nd: int) -> None:
    if len(weight.shape) != nd + 2:
        raise ValueError(f"{name}: weight must have {nd + 2} dimensions (in_channels, "
                         f"out_channels/groups, {nd} kernel sizes), got shape "
                         f"{tuple(weight.shape)}")


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-d transposed convolution of input (N, C_in, L) or (C_in, L), weight (C_in, C_out/G, k)."""
    _check_nd("conv_transpose1d", weight, 1)
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                          dilation, "conv_transpose1d")


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-d transposed convolution of input (N, C_in, H, W) or (C_in, H, W), weight
    (C_in, C_out/G, kH, kW), as PyTorch."""
    _check_nd("conv_transpose2d", weight, 2)
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                          dilation, "conv_transpose2d")
