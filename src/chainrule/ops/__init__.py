"""The differentiable ops: one class per op (forward, vjp, jvp), and their public functions."""

from __future__ import annotations

from typing import Any

from chainrule.ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    divide,
    exp,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    neg,
    power,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    subtract,
    tan,
    tanh,
    where,
)
from chainrule.ops.indexing import getitem, take
from chainrule.ops.linalg import dot, einsum, matmul, outer
from chainrule.ops.reduction import (
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    std,
    sum,
    var,
)
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand_dims,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs", "add", "argmax", "argmin", "astype", "broadcast_to", "cat", "clip", "concatenate",
    "cos", "divide", "dot", "einsum", "exp", "expand_dims", "flatten", "getitem", "log",
    "log1p", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum",
    "multiply", "neg", "outer", "pad", "permute", "power", "prod", "relu", "reshape", "sigmoid",
    "sign", "sin", "softmax", "softplus", "split", "sqrt", "squeeze", "stack", "std", "subtract",
    "sum", "swapaxes", "take", "tan", "tanh", "transpose", "unsqueeze", "var", "where",
]

# Functions that are also Tensor methods (PyTorch has them as methods).
_METHODS = (
    "abs", "argmax", "argmin", "clip", "cos", "exp", "flatten", "log", "log1p", "log_softmax",
    "logsumexp", "max", "mean", "min", "permute", "prod", "relu", "sigmoid", "sin", "softmax",
    "softplus", "sqrt", "squeeze", "std", "sum", "swapaxes", "tan", "tanh", "unsqueeze", "var",
    "matmul", "dot", "outer", "broadcast_to", "split", "expand_dims",
)


def _reshape_method(self: Any, *shape: Any) -> Any:
    """t.reshape(2, 3) or t.reshape((2, 3))."""
    return reshape(self, *shape)


def _transpose_method(self: Any, *axes: Any) -> Any:
    """NumPy's t.transpose(*axes); two ints on a tensor that is not 2-D swap them (PyTorch)."""
    if not axes:
        return transpose(self, None)
    if len(axes) == 2 and all(isinstance(a, int) for a in axes) and self.ndim != 2:
        return swapaxes(self, *axes)
    return transpose(self, axes[0] if len(axes) == 1 else axes)


def install_methods(cls: Any) -> None:
    """Attach the functions above as methods of Tensor."""
    g = globals()
    for name in _METHODS:
        setattr(cls, name, g[name])
    cls.reshape = cls.view = _reshape_method
    cls.transpose = _transpose_method
    cls.clamp = clip
    cls.pow = power
    cls.swapdims = swapaxes
