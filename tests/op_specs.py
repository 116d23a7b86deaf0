"""The op table: one row per differentiable chainrule op, driving tests/ops/test_op_table.py.

Like PyTorch's OpInfo and JAX's op-spec tables. A row names the op, its chainrule function
(Tensors in), its NumPy and PyTorch equivalents (same arguments), and its cases: the operand
shapes and non-differentiable keyword arguments to try. ``domain`` draws the operand values,
keeping them where the op is smooth (positive for log, no ties for max, away from relu's kink).
Adding an op means adding one row here; the generic tests then check it in every way.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from reference import (
    torch_dot,
    torch_getitem,
    torch_index,
    torch_logsumexp,
    torch_max,
    torch_mean,
    torch_min,
    torch_pad,
    torch_prod,
    torch_split,
    torch_std,
    torch_sum,
    torch_take,
    torch_var,
)

import chainrule as cr
from chainrule.ops.conv_transpose import conv_transpose

try:
    import torch
except ImportError:  # only the torch tests call the torch column, and they skip without it
    torch = None

Shape = tuple[int, ...]
Domain = Callable[[np.random.Generator, Sequence[Shape], Any], tuple[np.ndarray, ...]]


# ----- domains: how operand values are drawn -----
def _each(*draws: Callable[[np.random.Generator, Shape], np.ndarray]) -> Domain:
    """Independent draws per operand (the last draw repeats for any further operands)."""

    def domain(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
        return tuple(np.asarray(draws[min(i, len(draws) - 1)](rng, s), dtype=dtype)
                     for i, s in enumerate(shapes))

    return domain


def _normal(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.standard_normal(shape)


def _positive(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _away(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """|x| in [0.5, 1.5] with a random sign: away from 0."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)


normal = _each(_normal)
positive = _each(_positive)
away_from_zero = _each(_away)
above_minus_half = _each(lambda rng, s: rng.uniform(-0.5, 2.0, s))
inside_unit = _each(lambda rng, s: rng.uniform(-1.0, 1.0, s))
positive_base = _each(_positive, _normal)


def distinct(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """Values over all operands spaced 0.25 apart and 0.125 or more from 0: no ties, no kinks."""
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    values = (rng.permutation(2 * n)[:n] - n + 0.5) * 0.25
    parts = np.split(values, np.cumsum(sizes)[:-1])
    return tuple(p.reshape(s).astype(dtype) for p, s in zip(parts, shapes, strict=True))


def with_a_zero(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """Away from zero except one exact zero per operand (prod's derivative at a zero)."""
    out = away_from_zero(rng, shapes, dtype)
    for a in out:
        a.flat[rng.integers(a.size)] = 0
    return out


# ----- the row type -----
@dataclass(frozen=True, eq=False)
class Sample:
    """One call: the differentiable operands and the fixed keyword arguments."""

    args: tuple[np.ndarray, ...]
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.args)
        return f"Sample({shapes}; {self.kwargs})"


Case = tuple[tuple[Shape, ...], dict[str, Any]]


def case(*shapes: Shape, **kwargs: Any) -> Case:
    """Operand shapes and keyword arguments of one sample."""
    return tuple(shapes), kwargs


@dataclass(frozen=True, eq=False)
class OpSpec:
    """One op of the table.

    Args:
        name: the test id.
        fn: the chainrule function, ``fn(*tensors, **kwargs) -> Tensor``.
        np_fn: the NumPy equivalent, same arguments, for forward values.
        torch_fn: the PyTorch equivalent, same arguments (torch tensors), for derivatives.
        cases: the samples to try.
        domain: draws the operands of a case.
        elementwise: whether the property tests may call it on any broadcastable shapes.
        second_order: whether to gradcheck the gradient function (and compare Hessians).
        gradcheck_kw: eps/atol/rtol for cr.gradcheck.
        rtol: a floor on the relative tolerance wherever two computations are compared
            (for ops that round, such as a float32 step).
        op: the chainrule.ops function the row covers, when the name is not it.
        xfail: test key -> reason, for a known chainrule bug (strict xfail).
    """

    name: str
    fn: Callable[..., Any]
    np_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    cases: Sequence[Case]
    domain: Domain = normal
    elementwise: bool = False
    second_order: bool = True
    gradcheck_kw: dict[str, float] = field(default_factory=dict)
    rtol: float = 0.0
    op: str | None = None
    xfail: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name

    @property
    def covers(self) -> str:
        """The name of the chainrule.ops function this row tests."""
        return self.op or self.name

    def sample(self, rng: np.random.Generator, dtype: Any = np.float64) -> list[Sample]:
        """One Sample per case, drawn in dtype."""
        return [Sample(self.domain(rng, shapes, dtype), kwargs) for shapes, kwargs in self.cases]

    def bind(self, sample: Sample) -> Callable[..., Any]:
        """The chainrule function of the differentiable operands alone."""
        return functools.partial(self.fn, **sample.kwargs)

    def bind_torch(self, sample: Sample) -> Callable[..., Any]:
        """The torch function of the differentiable operands alone."""
        return functools.partial(self.torch_fn, **sample.kwargs)


def scalarised(fn: Callable[..., Any], w: np.ndarray) -> Callable[..., Any]:
    """xs -> sum(w * fn(xs)^2): a scalar whose gradient and Hessian exercise fn's rules."""

    def scalar(*xs: Any) -> Any:
        y = fn(*xs)
        return (y * y * w).sum()

    return scalar


# ----- shorthands for the rows -----
UNARY = (case(()), case((3,)), case((2, 3)))
BINARY = (case((2, 3), (2, 3)), case((2, 3), (3,)), case((), (2, 1)), case((3, 1), (1, 2)))


def unary(name: str, fn: Callable, np_fn: Callable, torch_fn: Callable, domain: Domain = normal,
          **kw: Any) -> OpSpec:
    """An elementwise one-operand row on the standard shapes."""
    return OpSpec(name, fn, np_fn, torch_fn, UNARY, domain, elementwise=True, **kw)


def binary(name: str, fn: Callable, np_fn: Callable, torch_fn: Callable, domain: Domain = normal,
           **kw: Any) -> OpSpec:
    """An elementwise two-operand row on the standard broadcasting shapes."""
    return OpSpec(name, fn, np_fn, torch_fn, BINARY, domain, elementwise=True, **kw)


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_split(x: np.ndarray, sections: Any, axis: int = 0) -> np.ndarray:
    return np.concatenate(np.split(x, sections, axis)[::-1], axis)


def _cr_split(x: cr.Tensor, sections: Any, axis: int = 0) -> cr.Tensor:
    """split, then the pieces joined in reverse order (a permutation: every piece matters)."""
    return cr.concatenate(cr.split(x, sections, axis)[::-1], axis)


def _roundtrip(x: Any, to: Any) -> Any:
    """Cast to ``to`` and back (both casts differentiable; the result keeps x's dtype)."""
    back = x.dtype
    return x.astype(to).astype(back) if hasattr(x, "astype") else x.to(to).to(back)


def _np_roundtrip(x: np.ndarray, to: Any) -> np.ndarray:
    return x.astype(to).astype(x.dtype)


def _torch_roundtrip(x: Any, to: Any) -> Any:
    return x.to(getattr(torch, np.dtype(to).name)).to(x.dtype)


def _np_index_put(x: np.ndarray, v: np.ndarray, idx: Any) -> np.ndarray:
    out = x.copy()
    out[idx] = v
    return out


def _torch_index_put(x: Any, v: Any, idx: Any) -> Any:
    out = x.clone()
    out[torch_index(idx)] = v
    return out


def _np_flatten(x: np.ndarray, start_dim: int = 0, end_dim: int = -1) -> np.ndarray:
    """PyTorch's flatten for an ndarray."""
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape((*x.shape[:s], -1, *x.shape[e + 1:]))


def _np_conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                       stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                       groups: int = 1, dilation: Any = 1) -> np.ndarray:
    """The scatter form: y[n, G(o), i s + k d - p] += x[n, G(c), i] w[c, o, k], then + b."""
    nd = w.ndim - 2
    if x.ndim == nd + 1:
        return _np_conv_transpose(x[None], w, b, stride, padding, output_padding, groups,
                                  dilation)[0]
    s, p, op, d = ((v,) * nd if isinstance(v, int) else tuple(v)
                   for v in (stride, padding, output_padding, dilation))
    cg, og, ks, size = x.shape[1] // groups, w.shape[1], w.shape[2:], x.shape[2:]
    full = [(i - 1) * st + dd * (k - 1) + 1 + o for i, st, dd, k, o in zip(size, s, d, ks, op)]
    y = np.zeros((x.shape[0], groups * og, *full), x.dtype)
    for g, k in itertools.product(range(groups), np.ndindex(*ks)):
        part = np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg],
                         w[(slice(g * cg, (g + 1) * cg), slice(None), *k)])
        at = tuple(slice(j * dd, j * dd + (i - 1) * st + 1, st)
                   for j, dd, i, st in zip(k, d, size, s))
        y[(slice(None), slice(g * og, (g + 1) * og), *at)] += part
    y = y[(Ellipsis, *(slice(pp, f - pp) for pp, f in zip(p, full)))]
    return y if b is None else y + b.reshape((-1,) + (1,) * nd)


def _torch_conv_transpose(x: Any, w: Any, b: Any = None, **kw: Any) -> Any:
    f = (torch.nn.functional.conv_transpose1d if w.ndim == 3
         else torch.nn.functional.conv_transpose2d)
    return f(x, w, b, **kw)


_REDUCE = (case((2, 3)), case((2, 3), axis=0), case((2, 3, 2), axis=(0, 2), keepdims=True),
           case((2, 3), axis=-1, keepdims=True), case(()))
_VAR = (case((2, 3)), case((2, 3), axis=1, ddof=1), case((2, 3, 2), axis=(0, 2), keepdims=True,
                                                        ddof=1), case((3,), ddof=2))
_SOFTMAX = (case((3,)), case((2, 3), axis=0), case((2, 3, 2), axis=1), case((2, 3), axis=-1))
_MASK = np.array([[True, False, True], [False, False, True]])
_ROWS = np.array([True, False, True, True])


OP_SPECS: list[OpSpec] = [
    # ----- elementwise arithmetic -----
    binary("add", cr.add, np.add, lambda a, b: a + b),
    binary("sub", cr.subtract, np.subtract, lambda a, b: a - b, op="subtract"),
    binary("mul", cr.multiply, np.multiply, lambda a, b: a * b, op="multiply"),
    binary("div", cr.divide, np.divide, lambda a, b: a / b, _each(_normal, _away), op="divide"),
    binary("pow", cr.power, np.power, lambda a, b: a**b, positive_base, op="power"),
    OpSpec("pow_scalar", lambda x, p: x**p, lambda x, p: x**p, lambda x, p: x**p,
           (case((2, 3), p=0.5), case((), p=-1.5), case((3,), p=1), case((2, 3), p=0),
            case((3,), p=2.5)), positive, elementwise=True, op="power"),
    OpSpec("pow_int", lambda x, p: x**p, lambda x, p: x**p, lambda x, p: x**p,
           (case((2, 3), p=2), case((), p=3), case((3,), p=-2)), away_from_zero,
           elementwise=True, op="power"),
    binary("maximum", cr.maximum, np.maximum, lambda a, b: torch.maximum(a, b), distinct),
    binary("minimum", cr.minimum, np.minimum, lambda a, b: torch.minimum(a, b), distinct),
    OpSpec("where", lambda a, b, cond: cr.where(cond, a, b),
           lambda a, b, cond: np.where(cond, a, b),
           lambda a, b, cond: torch.where(torch_index(cond), a, b),
           (case((2, 3), (2, 3), cond=_MASK), case((2, 3), (3,), cond=_MASK[:, :1]),
            case((), (2, 3), cond=_MASK[0]))),
    unary("neg", cr.neg, np.negative, lambda x: -x),
    # Safe gradients: the branch not taken has a NaN derivative (sqrt of x < 0), which must
    # not leak; torch needs the double-where trick to give the same.
    unary("where_sqrt", lambda x: cr.where(x > 0, cr.sqrt(x), 0.0),
          lambda x: np.where(x > 0, np.sqrt(np.abs(x)), 0.0),
          lambda x: torch.where(x > 0, torch.where(x > 0, x, 1.0).sqrt(), 0.0), distinct,
          op="where"),
    unary("where_pow", lambda x: cr.where(x > 0, x**1.5, -x),
          lambda x: np.where(x > 0, np.abs(x) ** 1.5, -x),
          lambda x: torch.where(x > 0, torch.where(x > 0, x, 1.0) ** 1.5, -x), distinct,
          op="where"),
    # ----- elementwise functions -----
    unary("exp", cr.exp, np.exp, lambda x: x.exp()),
    unary("log", cr.log, np.log, lambda x: x.log(), positive),
    unary("log1p", cr.log1p, np.log1p, lambda x: x.log1p(), above_minus_half),
    unary("sqrt", cr.sqrt, np.sqrt, lambda x: x.sqrt(), positive),
    unary("abs", cr.abs, np.abs, lambda x: x.abs(), away_from_zero),
    unary("sin", cr.sin, np.sin, lambda x: x.sin()),
    unary("cos", cr.cos, np.cos, lambda x: x.cos()),
    unary("tan", cr.tan, np.tan, lambda x: x.tan(), inside_unit),
    unary("tanh", cr.tanh, np.tanh, lambda x: x.tanh()),
    unary("sigmoid", cr.sigmoid, _np_sigmoid, lambda x: x.sigmoid()),
    unary("relu", cr.relu, lambda x: np.maximum(x, 0), lambda x: x.relu(), distinct),
    unary("softplus", cr.softplus, lambda x: np.logaddexp(0, x),
          lambda x: torch.nn.functional.softplus(x)),
    OpSpec("clip", cr.clip, np.clip, lambda x, a_min, a_max: torch.clamp(x, a_min, a_max),
           (case((2, 3), a_min=-0.25, a_max=0.3), case((3, 2), a_min=None, a_max=0.3),
            case((), a_min=-0.25, a_max=None)), distinct, elementwise=True),
    OpSpec("astype", _roundtrip, _np_roundtrip, _torch_roundtrip,
           (case((2, 3), to=np.float32), case((3,), to=np.float64), case((), to=np.float32)),
           # The float32 step rounds: bigger finite-difference steps, looser comparisons.
           gradcheck_kw={"eps": 1e-2, "atol": 1e-4}, rtol=1e-6),
    # ----- reductions -----
    OpSpec("sum", cr.sum, np.sum, torch_sum, _REDUCE),
    OpSpec("mean", cr.mean, np.mean, torch_mean, _REDUCE),
    OpSpec("var", cr.var, np.var, torch_var, _VAR),
    OpSpec("std", cr.std, np.std, torch_std, _VAR),
    OpSpec("max", cr.max, np.max, torch_max, _REDUCE, distinct),
    OpSpec("min", cr.min, np.min, torch_min, _REDUCE, distinct),
    OpSpec("prod", cr.prod, np.prod, torch_prod, _REDUCE, away_from_zero),
    OpSpec("prod_with_zero", cr.prod, np.prod, torch_prod,
           (case((2, 3)), case((2, 3), axis=1), case((4,))), with_a_zero, op="prod"),
    OpSpec("logsumexp", cr.logsumexp, _np_logsumexp, torch_logsumexp, _REDUCE),
    OpSpec("softmax", cr.softmax, _np_softmax,
           lambda x, axis=-1: torch.softmax(x, dim=axis), _SOFTMAX),
    OpSpec("log_softmax", cr.log_softmax, _np_log_softmax,
           lambda x, axis=-1: torch.log_softmax(x, dim=axis), _SOFTMAX),
    # ----- shape -----
    OpSpec("reshape", lambda x, shape: cr.reshape(x, shape), np.reshape,
           lambda x, shape: x.reshape(shape),
           (case((2, 3), shape=(3, 2)), case((2, 3), shape=(-1,)), case((), shape=(1, 1)),
            case((1, 3, 1), shape=(3,)), case((1,), shape=()))),
    OpSpec("transpose", cr.transpose, np.transpose,
           lambda x, axes=None: x.permute(axes if axes is not None else tuple(range(x.ndim))[::-1]),
           (case((2, 3)), case((2, 3, 2), axes=(1, 2, 0)), case(()),
            case((2, 3, 2), axes=(-1, 0, 1)))),
    OpSpec("permute", lambda x, dims: x.permute(*dims), lambda x, dims: np.transpose(x, dims),
           lambda x, dims: x.permute(*dims), (case((2, 3, 2), dims=(2, 0, 1)),
                                              case((2, 3), dims=(1, 0)))),
    OpSpec("swapaxes", cr.swapaxes, np.swapaxes,
           lambda x, axis1, axis2: torch.swapaxes(x, axis1, axis2),
           (case((2, 3, 2), axis1=0, axis2=2), case((2, 3), axis1=-1, axis2=0))),
    OpSpec("broadcast_to", cr.broadcast_to, np.broadcast_to, lambda x, shape: x.expand(shape),
           (case((3,), shape=(2, 3)), case((), shape=(2, 2)), case((2, 1), shape=(3, 2, 4)))),
    OpSpec("squeeze", cr.squeeze, np.squeeze,
           lambda x, axis=None: x.squeeze() if axis is None else x.squeeze(axis),
           (case((1, 3, 1)), case((1, 3, 1), axis=0), case((2, 1), axis=-1), case((1,)),
            case((1, 3, 1), axis=(0, 2)))),
    OpSpec("unsqueeze", cr.unsqueeze, lambda x, dim: np.expand_dims(x, dim),
           lambda x, dim: x.unsqueeze(dim),
           (case((2, 3), dim=0), case((2, 3), dim=-1), case((), dim=0))),
    OpSpec("expand_dims", cr.expand_dims, np.expand_dims,
           lambda x, axis: x.reshape(np.expand_dims(np.empty(x.shape), axis).shape),
           (case((2, 3), axis=(0, 2)), case((3,), axis=-1), case((), axis=(0, 1)))),
    OpSpec("flatten", cr.flatten,
           _np_flatten,
           lambda x, start_dim=0, end_dim=-1: x.flatten(start_dim, end_dim),
           (case((2, 3, 2)), case((2, 3, 2), start_dim=1), case((2, 3, 2, 1), end_dim=1),
            case(()))),
    OpSpec("concatenate", lambda *xs, axis: cr.concatenate(xs, axis),
           lambda *xs, axis: np.concatenate(xs, axis), lambda *xs, axis: torch.cat(xs, axis),
           (case((2, 3), (1, 3), axis=0), case((2, 3), (2, 1), (2, 2), axis=-1),
            case((3,), (2,), axis=0), case((2, 3), axis=1))),
    OpSpec("stack", lambda *xs, axis: cr.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
           lambda *xs, axis: torch.stack(xs, axis),
           (case((2, 3), (2, 3), axis=0), case((3,), (3,), (3,), axis=-1),
            case((), (), axis=0), case((2, 3), (2, 3), axis=1), case((3,), axis=0))),
    OpSpec("split", _cr_split, _np_split, torch_split,
           (case((4, 3), sections=2, axis=0), case((2, 6), sections=[1, 4], axis=1),
            case((3, 4), sections=4, axis=-1))),
    OpSpec("pad", cr.pad, np.pad, torch_pad,
           (case((2, 3), pad_width=1), case((2, 3), pad_width=((0, 1), (2, 0)),
                                             constant_values=1.5),
            case((3,), pad_width=(1, 2)))),
    # ----- convolution (the row covers the module: chainrule.ops has no conv names) -----
    OpSpec("conv_transpose", conv_transpose, _np_conv_transpose, _torch_conv_transpose,
           (case((2, 4, 3), (4, 3, 2), (3,)),
            case((2, 4, 3), (4, 1, 3), (2,), stride=2, padding=1, output_padding=1, groups=2),
            case((1, 2, 3), (2, 2, 2), (2,), dilation=2, output_padding=1),
            case((2, 2, 3), (2, 2, 2), stride=3),
            case((2, 3), (2, 2, 2), (2,), stride=2),
            case((1, 2, 3, 2), (2, 2, 2, 2), (2,), stride=(2, 1), padding=(1, 0)),
            case((2, 4, 2, 2), (4, 1, 2, 2), (4,), stride=2, output_padding=(1, 0), groups=4,
                 dilation=(1, 2)))),
    # ----- linear algebra -----
    OpSpec("matmul", cr.matmul, np.matmul, torch.matmul if torch else None,
           (case((3,), (3,)), case((3,), (3, 2)), case((2, 3), (3,)), case((2, 3), (3, 4)),
            case((2, 1, 2, 3), (3, 3, 2)), case((3,), (2, 3, 2)))),
    OpSpec("dot", cr.dot, np.dot, torch_dot,
           (case((3,), (3,)), case((2, 3), (3,)), case((2, 3), (3, 2)), case((), (2, 3)),
            case((2, 2, 3), (2, 3, 2)))),
    OpSpec("einsum", lambda *xs, spec: cr.einsum(spec, *xs),
           lambda *xs, spec: np.einsum(spec, *xs), lambda *xs, spec: torch.einsum(spec, *xs),
           (case((2, 3), (3, 2), spec="ij,jk->ik"),
            case((2, 2, 3), (2, 3, 2), spec="bij,bjk->bik"),
            case((2, 3), spec="ij->"), case((3,), (3,), spec="i,i"),
            case((2, 2, 3), (3, 2), spec="...ij,...jk->...ik"),
            case((2, 3), (2,), spec="ij,k->ijk"),
            case((2, 3), (3, 2), (2, 2), spec="ij,jk,kl->il"), case((2, 3, 2), spec="ijk->kji"))),
    OpSpec("outer", cr.outer, np.outer,
           lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)),
           (case((3,), (2,)), case((2, 2), (3,)), case((), (2,)))),
    # ----- indexing -----
    OpSpec("getitem_basic", lambda x, idx: x[idx], lambda x, idx: x[idx], torch_getitem,
           (case((4, 3), idx=(slice(1, 3),)),
            case((4, 3), idx=(slice(None), slice(None, None, -1))),
            case((4, 3), idx=(1,)), case((4, 3), idx=(-1, slice(0, 2))),
            case((2, 3, 2), idx=(Ellipsis, None, 1)), case((), idx=())), op="getitem"),
    OpSpec("getitem_advanced", lambda x, idx: x[idx], lambda x, idx: x[idx],
           lambda x, idx: x[torch_index(idx)],
           (case((4, 3), idx=(np.array([0, 2, 0, 3]),)),
            case((4, 3), idx=(np.array([[0, 1], [1, 1]]), np.array([[2, 2], [0, 2]]))),
            case((4, 3), idx=(slice(None), np.array([1, 1, 0]))),
            case((4, 3), idx=(np.array([3, 3]), 1))), op="getitem"),
    OpSpec("getitem_mask", lambda x, idx: x[idx], lambda x, idx: x[idx],
           lambda x, idx: x[torch_index(idx)],
           (case((2, 3), idx=(_MASK,)), case((4, 3), idx=(_ROWS,)),
            case((4, 3), idx=(_ROWS, slice(1, None)))), op="getitem"),
    OpSpec("clone", cr.clone, np.copy, lambda x: x.clone(), (case((3,)), case((2, 3)), case(()))),
    OpSpec("index_put", lambda x, v, idx: cr.index_put(x, idx, v), _np_index_put,
           _torch_index_put,
           (case((4, 3), (2, 3), idx=(slice(1, 3),)), case((4, 3), (3,), idx=(slice(None, 2),)),
            case((4, 3), (2, 3), idx=(np.array([0, 2]),)), case((4, 3), (), idx=(1, 2)),
            case((2, 3, 2), (2, 3), idx=(Ellipsis, 1)))),
    OpSpec("take", cr.take, np.take, torch_take,
           (case((5,), indices=np.array([0, 4, 0, 2])),
            case((3, 4), indices=np.array([[0, 1], [3, 3]]), axis=1),
            case((3, 2), indices=np.array(2), axis=0),
            case((3, 4), indices=np.array([[0, 5], [11, 5]])))),
]

# NumPy's further functions have their rows in op_specs_numpy (it imports the helpers above)
from op_specs_numpy import NUMPY_SPECS  # noqa: E402

OP_SPECS += NUMPY_SPECS

# cr.linalg's rows are in op_specs_linalg (named "linalg.<function>")
from op_specs_linalg import LINALG_SPECS  # noqa: E402

OP_SPECS += LINALG_SPECS

# cr.scipy's rows are in op_specs_scipy (named "scipy.<module>.<function>")
from op_specs_scipy import SCIPY_SPECS  # noqa: E402

OP_SPECS += SCIPY_SPECS

ELEMENTWISE_SPECS = [s for s in OP_SPECS if s.elementwise]


def rows(test: str, only: Callable[[OpSpec], bool] | None = None) -> list[Any]:
    """OP_SPECS (those ``only`` keeps) as pytest params for one generic test, ids the names,
    with the row's known failures for that test as strict xfails."""
    params = []
    for s in OP_SPECS:
        if only is not None and not only(s):
            continue
        marks = [pytest.mark.xfail(reason=s.xfail[test], strict=True)] if test in s.xfail else []
        params.append(pytest.param(s, id=s.name, marks=marks))
    return params
