"""autograd.test_util rebuilt on cr.vjp / cr.jvp: central differences in float64, both modes,
to any order, with random projections as autograd's check_grads does (written for the shim).

Complex inputs are out of scope: such a check is skipped and counted (COUNTS), so a test that only
checks complex values is classified out of scope while its real checks still run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as onp

import chainrule as cr
from autograd._shim import is_complex
from autograd.wrap_util import get_name, unary_to_nary

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6
COUNTS = {"checks": 0, "complex_skipped": 0}


def scalar_close(a: Any, b: Any) -> bool:
    a, b = float(onp.asarray(a)), float(onp.asarray(b))
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def _value(x: Any) -> Any:
    if isinstance(x, cr.Tensor):
        return onp.asarray(x.detach())
    return x


def _leaves(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    return [onp.asarray(_value(x))]


def _rebuild(like: Any, leaves: Any) -> Any:
    if isinstance(like, (list, tuple)):
        return type(like)(_rebuild(v, leaves) for v in like)
    if isinstance(like, dict):
        return {k: _rebuild(like[k], leaves) for k in sorted(like)}
    return next(leaves)


class VSpace:
    """The shapes and dtypes of a value's leaves (autograd's vspace, for real arrays)."""

    def __init__(self, x: Any) -> None:
        self.like = x
        self.sig = [(a.shape, a.dtype.kind) for a in _leaves(x)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VSpace) and self.sig == other.sig

    def __repr__(self) -> str:
        return f"VSpace({self.sig})"

    def randn(self) -> Any:
        draw = onp.random.randn
        leaves = [onp.asarray(draw(*a.shape)) for a in _leaves(self.like)]
        return _rebuild(self.like, iter(leaves))

    def map2(self, fn: Callable, a: Any, b: Any) -> Any:
        return _rebuild(self.like, iter(fn(x, y) for x, y in zip(_leaves(a), _leaves(b))))

    def inner_prod(self, a: Any, b: Any) -> float:
        return float(sum(onp.sum(x * y) for x, y in zip(_leaves(a), _leaves(b))))


def vspace(x: Any) -> VSpace:
    return VSpace(x)


def make_numerical_jvp(f: Callable, x: Any) -> Callable:
    x_vs = vspace(x)

    def jvp(v: Any) -> list:
        plus = f(x_vs.map2(lambda a, d: a + d * (EPS / 2), x, v))
        minus = f(x_vs.map2(lambda a, d: a - d * (EPS / 2), x, v))
        return [(p - m) / EPS for p, m in zip(_leaves(plus), _leaves(minus))]

    return jvp


def _skip_complex(*values: Any) -> bool:
    if any(is_complex(v) for v in values):
        COUNTS["complex_skipped"] += 1
        return True
    COUNTS["checks"] += 1
    return False


def check_vjp(f: Callable, x: Any) -> None:
    y, pull = cr.vjp(f, x)
    if _skip_complex(x, y):
        return
    x_vs, y_vs = vspace(x), vspace(y)
    x_v, y_v = x_vs.randn(), y_vs.randn()
    vjp_y = pull(y_v)[0]
    assert vspace(vjp_y) == x_vs, f"VSpace mismatch: {vspace(vjp_y)} vs {x_vs}"
    vjv_exact = x_vs.inner_prod(x_v, vjp_y)
    vjv_numeric = y_vs.inner_prod(y_v, make_numerical_jvp(f, x)(x_v))
    assert scalar_close(vjv_numeric, vjv_exact), (
        f"Derivative (VJP) check of {get_name(f)} failed with arg {x}:\n"
        f"analytic: {vjv_exact}\nnumeric:  {vjv_numeric}"
    )


def check_jvp(f: Callable, x: Any) -> None:
    if _skip_complex(x):
        return
    x_v = vspace(x).randn()
    _, exact = cr.jvp(f, (x,), (x_v,))
    check_equivalent(exact, make_numerical_jvp(f, x)(x_v))


def check_equivalent(x: Any, y: Any) -> None:
    x_leaves, y_leaves = _leaves(x), _leaves(y)
    x_vs = vspace(x_leaves)
    assert x_vs == vspace(y_leaves), f"VSpace mismatch:\nx: {x_vs}\ny: {vspace(y_leaves)}"
    v = x_vs.randn()
    assert scalar_close(x_vs.inner_prod(x_leaves, v), x_vs.inner_prod(y_leaves, v)), (
        f"Value mismatch:\nx: {x}\ny: {y}"
    )


@unary_to_nary
def check_grads(f: Callable, x: Any, modes: Sequence[str] = ("fwd", "rev"), order: int = 2) -> None:
    assert all(m in ("fwd", "rev") for m in modes)
    if is_complex(x):
        COUNTS["complex_skipped"] += 1
        return
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:

            def jvp_f(x: Any, v: Any) -> Any:
                return cr.jvp(f, (x,), (v,))[1]

            jvp_f.__name__ = f"jvp_{get_name(f)}"
            check_grads(jvp_f, (0, 1), modes, order=order - 1)(x, vspace(x).randn())
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:

            def vjp_f(x: Any, v: Any) -> Any:
                return cr.vjp(f, x)[1](v)[0]

            vjp_f.__name__ = f"vjp_{get_name(f)}"
            check_grads(vjp_f, (0, 1), modes, order=order - 1)(x, vspace(f(x)).randn())


def combo_check(fun: Callable, *args: Any, **kwargs: Any) -> Callable:
    """check_grads over every combination of the given argument and keyword values."""

    def _combo_check(*arg_lists: Any, **kwarg_lists: Any) -> None:
        keyed = [[(k, v) for v in vs] for k, vs in kwarg_lists.items()]
        for _args in itertools.product(*arg_lists):
            for _kwargs in itertools.product(*keyed):
                check_grads(fun, *args, **kwargs)(*_args, **dict(_kwargs))

    return _combo_check
