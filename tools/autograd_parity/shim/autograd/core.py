"""autograd.core: make_vjp / make_jvp (unary, as in autograd.core); the rest is internals."""

from collections.abc import Callable
from typing import Any

import chainrule as cr
from autograd._shim import out_of_scope


def make_vjp(fun: Callable, x: Any) -> tuple[Callable, Any]:
    out, pull = cr.vjp(fun, x)
    return (lambda g: pull(g)[0]), out


def make_jvp(fun: Callable, x: Any) -> Callable:
    return lambda v: cr.jvp(fun, (x,), (v,))


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return out_of_scope(f"autograd.core.{name}", "autograd's internals")
