"""cr.compile on functions computing cr.grad, cr.vjp, cr.jvp and cr.jacobian: the same values as
eager, recorded once and replayed (first-order reverse and forward mode, Jacobians in either
mode), or run eagerly with one warning (higher order: not recorded yet)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.tensor import Tensor

W = cr.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))


def loss(x: Tensor, b: Tensor) -> Tensor:
    h = cr.tanh(x @ W.T + b)  # x used twice: cotangents summed
    return (h * h).sum() + (x * x).sum()


def with_grad(x: Tensor, b: Tensor) -> Any:
    return cr.grad(loss, argnums=(0, 1))(x, b)


def with_vjp(x: Tensor, b: Tensor) -> Any:
    y, pullback = cr.vjp(lambda x: cr.tanh(x @ W.T + b), x)
    return y, pullback(cr.ones_like(y))


def with_jvp(x: Tensor, b: Tensor) -> Any:
    return cr.jvp(lambda x: cr.tanh(x @ W.T + b), (x,), (cr.ones_like(x),))


def with_jacobian(x: Tensor, b: Tensor) -> Any:
    return cr.jacobian(lambda x: cr.tanh(x @ W.T + b))(x[0])


def with_jacfwd(x: Tensor, b: Tensor) -> Any:
    return cr.jacobian(lambda x, b: cr.tanh(x @ W.T + b), argnums=(0, 1), mode="forward")(x, b)


def with_hessian(x: Tensor, b: Tensor) -> Any:
    return cr.hessian(lambda x: (cr.tanh(x @ W.T + b) ** 2).sum())(x[0])


def flat(value: Any) -> list[np.ndarray]:
    if isinstance(value, Tensor):
        return [value._data]
    if isinstance(value, tuple | list):
        return [a for v in value for a in flat(v)]
    return [np.asarray(value)]


@pytest.mark.parametrize("fn", [with_grad, with_vjp, with_jvp, with_jacobian, with_jacfwd,
                                with_hessian])
def test_transform_inside_matches_eager(fn: Any) -> None:
    compiled = cr.compile(fn)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            x = cr.tensor(rng.standard_normal((2, 4)).astype(np.float32))
            b = cr.tensor(rng.standard_normal(3).astype(np.float32))
            for got, want in zip(flat(compiled(x, b)), flat(fn(x, b)), strict=True):
                np.testing.assert_array_equal(got, want)
    if fn is not with_hessian:  # first-order reverse and forward mode: replayed
        assert caught == []
        assert compiled.stats == {"records": 1, "replays": 2, "bails": 0}
    else:  # forward over reverse (a backward with create_graph) runs eagerly, one warning
        assert len(caught) == 1
        assert compiled.eager


def _jvp_step(x: Tensor, v: Tensor) -> Any:
    def f(x: Tensor) -> Tensor:
        h = cr.sigmoid(x @ W.T) * cr.tanh(x[:, :3] + 1.0)  # lowered ops, a slice, broadcasting
        return (h.T * 2.0, cr.exp(h).sum())  # a transposed tangent (copied to C order)

    return cr.jvp(f, (x,), (v,))


def test_jvp_is_replayed_bit_for_bit_with_new_tangents() -> None:
    compiled = cr.compile(_jvp_step)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            x = cr.tensor(rng.standard_normal((2, 4)).astype(np.float32))
            v = cr.tensor(rng.standard_normal((2, 4)).astype(np.float32))
            got, want = flat(compiled(x, v)), flat(_jvp_step(x, v))
            assert len(got) == 4
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)
            assert all(g.flags.c_contiguous for g in got[2:])  # the tangents, as eager's
    assert compiled.stats == {"records": 1, "replays": 3, "bails": 0}


def test_batched_tangents_are_replayed() -> None:
    def step(x: Tensor, basis: Tensor) -> Any:  # a Jacobian by forward mode, one pass
        return cr.jvp(lambda x: cr.tanh(x @ W.T), (x,), (basis,))[1]

    compiled = cr.compile(step)
    basis = cr.tensor(np.eye(4, dtype=np.float32).reshape(4, 1, 4))
    for k in range(3):
        x = cr.tensor(np.full((1, 4), 0.1 * k, np.float32))
        np.testing.assert_array_equal(compiled(x, basis)._data, step(x, basis)._data)
    assert compiled.stats["replays"] == 2
