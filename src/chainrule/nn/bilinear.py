"""Bilinear: y = x1^T A x2 + b per output feature (PyTorch's parameter names, shapes and init)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor, as_operand

__all__ = ["Bilinear", "bilinear"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o].

    Computed as one matrix product, input1 @ weight (i, o*j), then a product with input2 summed
    over j: every mode and order comes from those ops' rules.
    """
    x1, x2, w = _t(input1), _t(input2), _t(weight)
    if w.ndim != 3:
        raise ValueError(f"bilinear(): weight must be 3-d (out, in1, in2), got shape {w.shape}")
    n_out, n1, n2 = w.shape
    if x1.ndim != x2.ndim:
        raise ValueError(f"bilinear(): input dimensions do not match: got {x1.ndim} and "
                         f"{x2.ndim} (shapes {x1.shape} and {x2.shape})")
    if x1.ndim == 0:
        raise ValueError("bilinear(): inputs must have a feature axis, got 0-d inputs")
    for d, (a, b) in enumerate(zip(x1.shape[:-1], x2.shape[:-1])):
        if a != b:
            raise ValueError(f"bilinear(): input batch dimensions do not match at dim {d}: got "
                             f"{a} and {b} (shapes {x1.shape} and {x2.shape})")
    for k, (x, want) in enumerate(((x1, n1), (x2, n2)), 1):
        if x.shape[-1] != want:
            raise ValueError(f"bilinear(): input{k} size does not match weight size: got "
                             f"{x.shape[-1]} but expected {want} (weight of shape {w.shape})")
    if bias is not None and tuple(bias.shape) != (n_out,):
        raise ValueError(f"bilinear(): bias size does not match weight size: got "
                         f"{tuple(bias.shape)} but expected ({n_out},)")
    wf = ops.reshape(ops.transpose(w, (1, 0, 2)), (n1, n_out * n2))
    t = ops.reshape(ops.matmul(x1, wf), (*x1.shape[:-1], n_out, n2))
    y = ops.sum(t * ops.expand_dims(x2, -2), axis=-1)
    return y if bias is None else y + bias


class Bilinear(Module):
    """y = x1^T A_o x2 + b_o, weight (out_features, in1_features, in2_features), bias
    (out_features,), both drawn from U(-1/sqrt(in1_features), 1/sqrt(in1_features)) as PyTorch.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "Bilinear")
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        dt = get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1.0 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
