"""cr.compile on functions computing cr.grad, cr.vjp, cr.jvp and cr.jacobian: the same values as
eager, recorded once and replayed (first-order reverse mode), or run eagerly with one warning
(forward mode and Jacobians are not recorded yet)."""

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


def flat(value: Any) -> list[np.ndarray]:
    if isinstance(value, Tensor):
        return [value._data]
    if isinstance(value, tuple | list):
        return [a for v in value for a in flat(v)]
    return [np.asarray(value)]


@pytest.mark.parametrize("fn", [with_grad, with_vjp, with_jvp, with_jacobian])
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
    if fn in (with_grad, with_vjp):  # first-order reverse mode is recorded
        assert caught == []
        assert compiled.stats == {"records": 1, "replays": 2, "bails": 0}
    else:  # forward mode, and the jacobian's basis, run eagerly (with one warning)
        assert len(caught) == 1
        assert compiled.eager
