"""The lowered replay: simple ops as NumPy expressions with buffers kept between replays, and
cotangent sums in place. Same bits as eager; a buffer is never reused while someone holds it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.compile import lower
from chainrule.tensor import Tensor


@pytest.fixture(params=["small", "buffered"])
def buffers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every result below BUFFER_BYTES (fresh arrays) or above it (buffers reused)."""
    monkeypatch.setattr(lower, "BUFFER_BYTES", 1 << 40 if request.param == "small" else 0)
    return request.param


def params(*shapes: tuple[int, ...], seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [cr.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
            for s in shapes]


def shared_step(w: Tensor, v: Tensor) -> Any:
    """A value used by four consumers (cotangents stored, summed, then added in place), every
    lowered op (add, sub, mul, tanh, relu, linear) and a generic one (exp)."""

    def step(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        w.grad = None
        v.grad = None
        h = cr.tanh(x * v)
        y = h * h + (h - cr.relu(h)) * cr.exp(h)
        z = nn.functional.linear(y, w)
        loss = (z * z).sum()
        loss.backward()
        return loss, w.grad, v.grad

    return step


def test_lowered_replay_is_bit_identical(buffers: str) -> None:
    w, v = params((3, 4), (5, 4))
    compiled = cr.compile(shared_step(w, v))
    eager = shared_step(w, v)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = cr.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        for got, want in zip(compiled(x), eager(x), strict=True):
            np.testing.assert_array_equal(got._data, want._data)
    assert compiled.stats["replays"] == 3
    source = compiled.cache[next(iter(compiled.cache))][0].source
    for kernel in ("np_tanh", "np_matmul", "np_maximum", "+="):  # += : a sum in place
        assert kernel in source
    assert ("fresh(" in source) == (buffers == "buffered")


def test_values_someone_holds_are_not_overwritten(buffers: str) -> None:
    w, v = params((3, 4), (5, 4))
    compiled = cr.compile(shared_step(w, v))
    rng = np.random.default_rng(1)
    kept = []
    for _ in range(4):
        x = cr.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        out = compiled(x)
        kept.append((out, [t._data.copy() for t in out]))
    for out, copies in kept:  # the results and .grad of every step are still their own
        for t, c in zip(out, copies, strict=True):
            np.testing.assert_array_equal(t._data, c)
    assert len({id(out[1]._data) for out, _ in kept}) == 4


def test_buffers_are_reused_when_nobody_holds_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lower, "BUFFER_BYTES", 0)
    w, v = params((3, 4), (5, 4))
    step = shared_step(w, v)

    def no_results(x: Tensor) -> None:
        step(x)

    compiled = cr.compile(no_results)
    x = cr.tensor(np.ones((5, 4), np.float32))
    compiled(x)
    compiled(x)
    made = []
    monkeypatch.setattr(lower, "_empty_like", lambda b: made.append(b) or np.empty_like(b))
    for _ in range(3):
        compiled(x)
        w.grad = v.grad = None  # nobody keeps the gradients
    assert made == []


def test_retained_graph_keeps_its_values() -> None:
    w, = params((4,))

    def step(x: Tensor) -> Tensor:
        w.grad = None
        y = cr.tanh(x * w)
        y.sum().backward(retain_graph=True)
        return w.grad

    compiled, eager = cr.compile(step), step
    for k in range(3):
        x = cr.tensor(np.full(4, 0.1 * k, np.float32))
        np.testing.assert_array_equal(compiled(x)._data, eager(x)._data)


def test_inference_function_is_lowered() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    model.eval()

    def predict(x: Tensor) -> Tensor:
        with cr.no_grad():  # with grad on, the output's graph would keep it eager
            return model(x)

    compiled = cr.compile(predict)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = cr.tensor(rng.standard_normal((4, 6)).astype(np.float32))
        with cr.no_grad():
            want = model(x)._data
        np.testing.assert_array_equal(compiled(x)._data, want)
