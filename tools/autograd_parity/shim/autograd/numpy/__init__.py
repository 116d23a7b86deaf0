"""autograd.numpy -> chainrule's NumPy-dialect namespace.

A name chainrule has is chainrule's. A name it lacks falls back to NumPy only when it carries no
derivative: a constant or type (pi, newaxis, float64, ndarray), a setting (seterr, errstate,
printoptions) or one of autograd's own
non-differentiable functions (its ``nograd_functions``: comparisons, isnan, allclose, shape ...),
applied to the Tensors' values. Any other missing name raises MissingName (the test cannot run).
"""

from __future__ import annotations

from typing import Any

import numpy as onp

import chainrule as cr
from autograd._shim import lookup
from autograd.numpy import fft, linalg, random

# autograd.numpy.numpy_vjps.nograd_functions, as names
NOGRAD = frozenset(
    [
        "floor",
        "ceil",
        "round",
        "rint",
        "around",
        "fix",
        "trunc",
        "all",
        "any",
        "argmax",
        "argmin",
        "argpartition",
        "argsort",
        "argwhere",
        "nonzero",
        "flatnonzero",
        "count_nonzero",
        "searchsorted",
        "sign",
        "ndim",
        "shape",
        "floor_divide",
        "logical_and",
        "logical_or",
        "logical_not",
        "logical_xor",
        "isfinite",
        "isinf",
        "isnan",
        "isneginf",
        "isposinf",
        "allclose",
        "isclose",
        "array_equal",
        "array_equiv",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "equal",
        "not_equal",
        "iscomplexobj",
        "iscomplex",
        "size",
        "isscalar",
        "isreal",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "result_type",
    ]
)


def _values(x: Any) -> Any:
    if isinstance(x, cr.Tensor):
        return onp.asarray(x.detach())
    if isinstance(x, (list, tuple)):
        return type(x)(_values(v) for v in x)
    return x


def _nograd(fn: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return fn(*_values(args), **{k: _values(v) for k, v in kwargs.items()})

    wrapped.__name__ = fn.__name__
    return wrapped


# NumPy's settings, not array functions: NumPy's own.
SETTINGS = frozenset(
    ["seterr", "geterr", "errstate", "set_printoptions", "get_printoptions", "printoptions"]
)


def __getattr__(name: str) -> Any:
    if hasattr(cr, name) and not name.startswith("_"):
        return getattr(cr, name)
    obj = getattr(onp, name, None)
    if obj is not None and (not callable(obj) or isinstance(obj, type) or name in SETTINGS):
        return obj
    if name == "newaxis":
        return None
    if name in NOGRAD and obj is not None:
        return _nograd(obj)
    return lookup(cr, "cr", name)


__all__ = ["fft", "linalg", "random"]
