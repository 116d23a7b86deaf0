"""Pointwise activations beyond nn.activation's (PyTorch's names, arguments and derivatives).

Each is built from chainrule's differentiable ops. Piecewise functions use ``where`` so the
gradient at a kink is PyTorch's (hardtanh's and hardswish's take the outer piece's at
the bounds); ``inplace=True`` writes the result into the input, recorded as PyTorch records it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff.inplace import apply_inplace
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import init as nn_init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.nn import elu
from chainrule.tensor import Tensor, as_operand

__all__ = [
    "CELU",
    "GLU",
    "SELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "Mish",
    "PReLU",
    "ReLU6",
    "SiLU",
    "Softmin",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "celu",
    "glu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "logsigmoid",
    "mish",
    "prelu",
    "relu6",
    "selu",
    "silu",
    "softmin",
    "softsign",
    "tanhshrink",
    "threshold",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _apply(x: Any, fn: Callable[[Tensor], Tensor], inplace: bool, name: str) -> Tensor:
    """fn(x), or with inplace fn's result written into x (x is returned)."""
    x = _t(x)
    return apply_inplace(x, f"{name}_", fn) if inplace else fn(x)


def _clamp_open(x: Tensor, lo: float, hi: float) -> Tensor:
    """clamp(x, lo, hi) with gradient 1 strictly inside (lo, hi) and 0 at the bounds."""
    # Tensor masks and a detached clip, not ndarrays: cr.compile replays them on new values
    return ops.where((x > lo) & (x < hi), x, ops.clip(x, lo, hi).detach())


# ----- functions -----
def silu(input: Any, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (swish)."""
    return _apply(input, lambda x: x * ops.sigmoid(x), inplace, "silu")


def mish(input: Any, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x))."""
    return _apply(input, lambda x: x * ops.tanh(ops.softplus(x)), inplace, "mish")


def logsigmoid(input: Any) -> Tensor:
    """log sigmoid(x) = -softplus(-x), stable for large |x|."""
    return -ops.softplus(-_t(input))


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val); gradient 1 strictly inside, 0 at and beyond the bounds."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _apply(input, lambda x: _clamp_open(x, min_val, max_val), inplace, "hardtanh")


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (hardtanh(x, 0, 6), as PyTorch)."""
    return _apply(input, lambda x: _clamp_open(x, 0.0, 6.0), inplace, "relu6")


def _hardsigmoid(x: Tensor) -> Tensor:
    v = x.detach()
    y = ops.clip((v + 3) / 6, 0, 1)
    # PyTorch's gradient is float32's 1/6 (its kernel's 1.0f / 6.0f) in every dtype
    sixth = float(np.float32(1.0) / np.float32(6.0))
    inside = x * sixth + (y - v * sixth)  # value y, slope sixth
    return ops.where((x > -3) & (x < 3), inside, y)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3)."""
    return _apply(input, _hardsigmoid, inplace, "hardsigmoid")


def _hardswish(x: Tensor) -> Tensor:
    return ops.where(x <= -3, x.dtype.type(0), ops.where(x < 3, x * (x + 3.0) / 6.0, x))


def hardswish(input: Any, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6; gradient 0, x/3 + 1/2, 1 below, strictly inside, above (-3, 3)."""
    return _apply(input, _hardswish, inplace, "hardswish")


def selu(input: Any, inplace: bool = False) -> Tensor:
    """scale (x if x > 0 else alpha (e^x - 1)), with SELU's fixed alpha and scale."""
    return _apply(input, lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE, inplace, "selu")


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (e^(x/alpha) - 1)."""
    if alpha == 0:
        raise ValueError(f"celu: alpha cannot be 0, got {alpha}")

    # PyTorch's derivative scales by 1 / float32(alpha): match it, keeping the exact value
    inv = 1.0 / float(np.float32(alpha))

    def fn(x: Tensor) -> Tensor:
        v = x._data
        neg = elu(x * inv, 1.0) * alpha
        if inv != 1.0 / alpha:
            exact = alpha * np.expm1(np.minimum(v, 0) / alpha)
            neg = neg + (exact - neg._data).astype(v.dtype, copy=False)
        return ops.where(v > 0, x, neg)

    return _apply(input, fn, inplace, "celu")


def softsign(input: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = _t(input)
    return x / (ops.abs(x) + 1.0)


def tanhshrink(input: Any) -> Tensor:
    """x - tanh(x)."""
    x = _t(input)
    return x - ops.tanh(x)


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _apply(input, lambda x: ops.where(x > threshold, x, value), inplace,
                  "threshold")


def glu(input: Any, dim: int = -1) -> Tensor:
    """a sigmoid(b), where a and b are the two halves of input along dim."""
    x = _t(input)
    if x.ndim == 0:
        raise ValueError("glu: does not support 0-d input (halving a dimension needs one)")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for input of shape {x.shape}")
    if x.shape[dim] % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} of input "
                         f"of shape {x.shape} is size {x.shape[dim]}")
    a, b = ops.split(x, 2, axis=dim)
    return a * ops.sigmoid(b)


def prelu(input: Any, weight: Any) -> Tensor:
    """x if x > 0 else w x, w one slope or one per channel (axis 1 of input)."""
    x, w = _t(input), _t(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: expected weight to be a scalar or 1-D tensor, got shape "
                         f"{w.shape}")
    if w.size != 1:
        if x.ndim == 0:
            raise ValueError(f"prelu: {w.size} weights need an input with a channel axis, "
                             "got a 0-d input")
        channels = x.shape[1] if x.ndim > 1 else 1
        if channels != w.size:
            raise ValueError(f"prelu: mismatch of parameter numbers and input channel size: "
                             f"{w.size} weights and {channels} channels (input of shape "
                             f"{x.shape})")
    if x.ndim != w.ndim:
        shape = [1] * x.ndim
        if x.ndim > 1:
            shape[1] = w.size
        w = ops.reshape(w, tuple(shape))
    return ops.where(x > 0, x, w * x)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's deprecated implicit dim: 0 for 0-, 1- and 3-d input, else 1 (with its warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """softmax(-x) along dim; dtype casts the input first."""
    x = _t(input)
    if dtype is not None:
        x = ops.astype(x, dtype)
    if dim is None:
        dim = _softmax_dim("softmin", x.ndim, _stacklevel)
    return ops.softmax(-x, axis=dim)


# ----- modules -----
class _Inplace(Module):
    """An activation with PyTorch's ``inplace`` flag."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_Inplace):
    """x sigmoid(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return silu(input, self.inplace)


class Mish(_Inplace):
    """x tanh(softplus(x))."""

    def forward(self, input: Tensor) -> Tensor:
        return mish(input, self.inplace)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6."""

    def forward(self, input: Tensor) -> Tensor:
        return hardsigmoid(input, self.inplace)


class Hardswish(_Inplace):
    """x relu6(x + 3) / 6."""

    def forward(self, input: Tensor) -> Tensor:
        return hardswish(input, self.inplace)


class SELU(_Inplace):
    """Scaled ELU with SELU's fixed alpha and scale."""

    def forward(self, input: Tensor) -> Tensor:
        return selu(input, self.inplace)


class Hardtanh(_Inplace):
    """clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        if max_val <= min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, input: Tensor) -> Tensor:
        return hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{extra}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CELU(_Inplace):
    """x if x > 0 else alpha (e^(x/alpha) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:
        return celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Threshold(_Inplace):
    """x where x > threshold, else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.threshold = threshold
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{extra}"


class LogSigmoid(Module):
    """log sigmoid(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return softsign(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return tanhshrink(input)


class GLU(Module):
    """First half of dim gated by the sigmoid of the second half."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along dim."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x if x > 0 else a x, with learned slopes a (one, or one per channel) starting at init."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "PReLU")
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be positive, got {num_parameters}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(np.full(num_parameters, init,
                                        get_default_dtype() if dtype is None else dtype))

    def reset_parameters(self) -> None:
        """Set every slope back to init."""
        nn_init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
