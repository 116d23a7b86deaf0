"""autograd's differential operators, each a few lines over cr.grad / cr.vjp / cr.jvp."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import chainrule as cr
from autograd._shim import out_of_scope
from autograd.wrap_util import unary_to_nary


@unary_to_nary
def grad(fun: Callable, x: Any) -> Any:
    return cr.grad(fun)(x)


@unary_to_nary
def value_and_grad(fun: Callable, x: Any) -> Any:
    return cr.value_and_grad(fun)(x)


@unary_to_nary
def elementwise_grad(fun: Callable, x: Any) -> Any:
    out, pull = cr.vjp(fun, x)
    return pull(cr.ones_like(out))[0]


@unary_to_nary
def deriv(fun: Callable, x: Any) -> Any:
    return cr.jvp(fun, (x,), (cr.ones_like(cr.tensor(x)),))[1]


@unary_to_nary
def jacobian(fun: Callable, x: Any) -> Any:
    return cr.jacobian(fun)(x)


@unary_to_nary
def hessian(fun: Callable, x: Any) -> Any:
    return cr.hessian(fun)(x)


@unary_to_nary
def make_vjp(fun: Callable, x: Any) -> Any:
    out, pull = cr.vjp(fun, x)
    return (lambda g: pull(g)[0]), out


@unary_to_nary
def make_jvp(fun: Callable, x: Any) -> Any:
    return lambda v: cr.jvp(fun, (x,), (v,))


@unary_to_nary
def make_hvp(fun: Callable, x: Any) -> Any:
    out, pull = cr.vjp(cr.grad(fun), x)
    return (lambda v: pull(v)[0]), out


@unary_to_nary
def grad_and_aux(fun: Callable, x: Any) -> Any:
    aux = []

    def value(x: Any) -> Any:
        v, a = fun(x)
        aux.append(a)
        return v

    g = cr.grad(value)(x)
    return g, aux[-1]


def grad_named(fun: Callable, argname: str) -> Callable:
    return grad(fun, list(inspect.signature(fun).parameters).index(argname))


def hessian_tensor_product(fun: Callable, argnum: int = 0) -> Callable:
    """H(x) . v: the gradient of <grad f(x), v>."""
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args: Any, **kwargs: Any) -> Any:
        v = args[-1]
        return cr.tensordot(fun_grad(*args[:-1], **kwargs), v, cr.tensor(v).ndim)

    return grad(vector_dot_grad, argnum)


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun: Callable, argnum: int = 0) -> Callable:
    """v . J(x): the Jacobian of <v, f(x)> (contracting v's axes)."""

    def vector_dot_fun(*args: Any, **kwargs: Any) -> Any:
        v = args[-1]
        return cr.tensordot(v, fun(*args[:-1], **kwargs), cr.tensor(v).ndim)

    return jacobian(vector_dot_fun, argnum)


vector_jacobian_product = tensor_jacobian_product


def make_ggnvp(f: Callable, g: Callable | None = None, f_argnum: int = 0) -> Callable:
    """Generalised Gauss-Newton product J_f^T H_g J_f v."""
    if g is None:
        g = lambda y: 0.5 * cr.sum(y**2, axis=-1)  # noqa: E731

    @unary_to_nary
    def _make_ggnvp(f: Callable, x: Any) -> Callable:
        f_x, f_pull = cr.vjp(f, x)
        _, g_pull = cr.vjp(cr.grad(g), f_x)

        def ggnvp(v: Any) -> Any:
            jv = cr.jvp(f, (x,), (v,))[1]
            return f_pull(g_pull(jv)[0])[0]

        return ggnvp

    return _make_ggnvp(f, f_argnum)


def checkpoint(fun: Callable) -> Callable:
    return fun


holomorphic_grad = out_of_scope("autograd.holomorphic_grad", "complex numbers")
multigrad_dict = out_of_scope("autograd.multigrad_dict", "autograd's container types")
