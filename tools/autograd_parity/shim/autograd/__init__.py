"""autograd's public names mapped onto chainrule (the parity shim; not autograd's code)."""

import numpy as onp

import chainrule as cr
from autograd.differential_operators import (
    checkpoint,
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    holomorphic_grad,
    jacobian,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
)

cr.set_default_dtype(onp.float64)  # NumPy's dialect: Python floats are float64, as in autograd

# autograd's containers are its boxing machinery around Python's; chainrule's transforms take
# Python's tuples, lists and dicts directly (pytrees), so the constructors are Python's own.
import builtins as _builtins  # noqa: E402

from autograd.extend import primitive  # noqa: E402

dict, isinstance, list, tuple, type = (
    _builtins.dict,
    _builtins.isinstance,
    _builtins.list,
    _builtins.tuple,
    _builtins.type,
)

__all__ = [
    "checkpoint",
    "deriv",
    "dict",
    "elementwise_grad",
    "grad",
    "grad_and_aux",
    "grad_named",
    "hessian",
    "hessian_tensor_product",
    "hessian_vector_product",
    "holomorphic_grad",
    "isinstance",
    "jacobian",
    "list",
    "make_ggnvp",
    "make_hvp",
    "make_jvp",
    "make_vjp",
    "multigrad_dict",
    "primitive",
    "tensor_jacobian_product",
    "tuple",
    "type",
    "value_and_grad",
    "vector_jacobian_product",
]
