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
from chainrule.ops.indexing import getitem, index_put, take
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
    clone,
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
    "abs",
    "add",
    "argmax",
    "argmin",
    "astype",
    "broadcast_to",
    "cat",
    "clip",
    "clone",
    "concatenate",
    "cos",
    "divide",
    "dot",
    "einsum",
    "exp",
    "expand_dims",
    "flatten",
    "getitem",
    "index_put",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "neg",
    "outer",
    "pad",
    "permute",
    "power",
    "prod",
    "relu",
    "reshape",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "softplus",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "swapaxes",
    "take",
    "tan",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]

# Functions that are also Tensor methods with the same meaning in both dialects.
_METHODS = (
    "abs", "clip", "cos", "exp", "flatten", "log", "log1p", "log_softmax", "relu", "sigmoid",
    "sin", "softmax", "softplus", "sqrt", "tan", "tanh", "unsqueeze", "matmul", "dot",
    "outer", "broadcast_to", "expand_dims", "swapaxes", "sign",
)

# PyTorch-dialect methods (ops/methods*.py): argument handling over the same ops.
_TORCH_METHODS = {
    "methods": (
        "view", "reshape", "squeeze", "view_as", "contiguous", "clone", "transpose", "t", "permute",
        "expand", "expand_as", "repeat", "split", "chunk", "unbind", "select", "narrow",
        "unflatten", "flip", "gather", "scatter", "scatter_add", "index_select", "masked_fill",
        "masked_select", "where", "max", "min", "amax", "amin", "sum", "mean", "prod", "var",
        "std", "logsumexp", "argsort", "sort", "topk", "argmax", "argmin", "all", "any", "norm",
        "cumsum", "add", "sub", "mul", "div", "pow", "rsqrt", "square", "reciprocal", "clamp",
        "clamp_min", "clamp_max", "addcmul", "addcdiv", "lerp", "floor", "ceil", "trunc",
        "round", "log2", "log10",
    ),
    "methods_convert": (
        "float", "double", "half", "long", "int", "short", "byte", "bool", "type", "type_as",
        "is_floating_point", "to", "cpu", "cuda", "numpy", "new_zeros", "new_ones", "new_empty",
        "new_full", "new_tensor", "eq", "ne", "lt", "le", "gt", "ge", "less", "less_equal",
        "greater", "greater_equal", "logical_and", "logical_or", "logical_xor", "logical_not",
        "isnan", "isinf", "isfinite", "equal", "allclose", "nonzero", "mm", "bmm", "mv",
        "element_size", "stride", "is_contiguous", "data_ptr", "share_memory_", "is_shared",
        "to_sparse", "to_dense",
    ),
    "methods_inplace": (
        "add_", "sub_", "mul_", "div_", "pow_", "addcmul_", "addcdiv_", "lerp_", "neg_",
        "abs_", "exp_", "log_", "sqrt_", "sin_", "cos_", "tanh_", "sigmoid_", "relu_",
        "reciprocal_", "square_", "floor_", "ceil_", "round_", "trunc_", "clamp_", "clamp_min_",
        "clamp_max_", "zero_", "fill_", "copy_", "masked_fill_", "index_fill_", "scatter_",
        "scatter_add_", "fill_diagonal_", "normal_", "uniform_", "bernoulli_", "exponential_",
        "random_", "detach_",
    ),
}

_ALIASES = {
    "clip_": "clamp_", "multiply": "mul", "divide": "div", "true_divide": "div",
    "subtract": "sub", "negative": "__neg__", "neg": "__neg__", "swapdims": "swapaxes",
    "ndimension": "dim", "nelement": "numel", "absolute": "abs",
}


def install_methods(cls: Any) -> None:
    """Attach the Tensor's methods: the shared functions above and the PyTorch-dialect ones."""
    import importlib

    g = globals()
    for name in _METHODS:
        setattr(cls, name, g[name])
    for module, names in _TORCH_METHODS.items():
        mod = importlib.import_module(f"chainrule.ops.{module}")
        for name in names:
            setattr(cls, name, getattr(mod, name))
    cls.mT = property(importlib.import_module("chainrule.ops.methods").mT)
    for alias, name in _ALIASES.items():
        setattr(cls, alias, getattr(cls, name))
