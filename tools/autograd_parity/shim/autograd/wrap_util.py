"""unary_to_nary and wraps: how autograd's operators take argnum (written for the shim)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def _subvals(args: tuple, pairs: Any) -> tuple:
    args = list(args)
    for i, v in pairs:
        args[i] = v
    return tuple(args)


def unary_to_nary(unary_operator: Callable) -> Callable:
    """op(fun, x) -> op(fun, argnum=0, ...)(*args): x is args[argnum] (a tuple for a tuple)."""

    @functools.wraps(unary_operator)
    def nary_operator(fun: Callable, argnum: Any = 0, *op_args: Any, **op_kwargs: Any) -> Callable:
        def nary_f(*args: Any, **kwargs: Any) -> Any:
            def unary_f(x: Any) -> Any:
                if isinstance(argnum, int):
                    return fun(*_subvals(args, [(argnum, x)]), **kwargs)
                return fun(*_subvals(args, zip(argnum, x)), **kwargs)

            unary_f.__name__ = getattr(fun, "__name__", "f")
            x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
            return unary_operator(unary_f, x, *op_args, **op_kwargs)

        nary_f.__name__ = f"{unary_operator.__name__}_of_{getattr(fun, '__name__', 'f')}"
        return nary_f

    return nary_operator


def wraps(fun: Callable, namestr: str = "{fun}", docstr: str = "{doc}", **kwargs: Any) -> Callable:
    def _wraps(f: Callable) -> Callable:
        try:
            f.__name__ = namestr.format(fun=getattr(fun, "__name__", "f"), **kwargs)
            f.__doc__ = docstr.format(fun=fun.__name__, doc=fun.__doc__ or "", **kwargs)
        except (AttributeError, KeyError):
            pass
        return f

    return _wraps


def get_name(f: Callable) -> str:
    return getattr(f, "__name__", "[unknown name]")
