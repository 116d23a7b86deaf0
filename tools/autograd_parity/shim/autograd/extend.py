"""autograd.extend's primitive / defvjp / defjvp on cr.Function (written for the shim): a
primitive called with Tensors runs as one chainrule op whose rules are the registered makers.
Box, VSpace and the rest of autograd's tracer are out of scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as onp

import chainrule as cr
from autograd._shim import out_of_scope
from chainrule.autodiff.zero import ZERO

_ARRAY = (cr.Tensor, onp.ndarray, onp.generic, float, int)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, cr.Tensor) else x


class Primitive:
    """fun, with derivative rules registered by defvjp / defjvp (keyed by argument position)."""

    def __init__(self, fun: Callable) -> None:
        self.fun = fun
        self.vjps: dict[int, Callable] = {}
        self.jvps: dict[int, Callable] = {}
        functools.update_wrapper(self, fun)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # as a method
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not any(isinstance(a, cr.Tensor) for a in args):
            return self.fun(*args, **kwargs)
        where = [i for i, a in enumerate(args) if isinstance(a, _ARRAY)]
        prim = self

        def full(values: Any) -> list:
            out = list(args)
            for i, v in zip(where, values):
                out[i] = v
            return out

        class Op(cr.Function):
            name = getattr(prim.fun, "__name__", "primitive")

            @staticmethod
            def forward(ctx: Any, *xs: Any) -> Any:
                ans = onp.asarray(_raw(prim.fun(*full(xs), **kwargs)))
                ctx.save_for_backward(*xs, ans)
                return ans

            @staticmethod
            def vjp(ctx: Any, g: Any) -> Any:
                *xs, ans = ctx.saved
                vals = full(xs)
                grads = []
                for k, (i, x) in enumerate(zip(where, xs)):
                    maker = prim.vjps.get(i)
                    if maker is not None:
                        grads.append(maker(ans, *vals, **kwargs)(g))
                    elif getattr(ctx.args[k], "requires_grad", False):
                        raise NotImplementedError(f"VJP of {Op.name} wrt argnum {i} not defined")
                    else:
                        grads.append(x * 0.0)
                return tuple(grads) if len(grads) > 1 else grads[0]

            @staticmethod
            def jvp(ctx: Any, *dxs: Any) -> Any:
                *xs, ans = ctx.saved
                vals = full(xs)
                total = None
                for i, dx in zip(where, dxs):
                    if dx is ZERO:
                        continue
                    if i not in prim.jvps:
                        raise NotImplementedError(f"JVP of {Op.name} wrt argnum {i} not defined")
                    d = prim.jvps[i](dx, ans, *vals, **kwargs)
                    total = d if total is None else total + d
                return ZERO if total is None else total

        return Op.apply(*[args[i] for i in where])


def primitive(fun: Callable) -> Primitive:
    return Primitive(fun)


def defvjp(prim: Primitive, *makers: Any, argnums: Any = None) -> None:
    for i, m in zip(argnums if argnums is not None else range(len(makers)), makers):
        if m is not None:
            prim.vjps[i] = m


def defjvp(prim: Primitive, *makers: Any, argnums: Any = None) -> None:
    for i, m in zip(argnums if argnums is not None else range(len(makers)), makers):
        if m is not None:
            prim.jvps[i] = m


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return out_of_scope(f"autograd.extend.{name}", "autograd's internals")
