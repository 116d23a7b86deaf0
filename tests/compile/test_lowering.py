"""The lowered replay: simple ops as NumPy expressions with buffers kept between replays, and
cotangent sums in place. Same bits as eager; a buffer is never reused while someone holds it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.compile import buffers as cells
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
    monkeypatch.setattr(cells, "_empty_like", lambda b: made.append(b) or np.empty_like(b))
    renew = cells._renew
    monkeypatch.setattr(cells, "_renew", lambda c: made.append(c) or renew(c))
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


def test_arena_overlaps_only_cells_never_live_together() -> None:
    f32 = np.dtype(np.float32)
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(30):
        spans, k = [], int(rng.integers(0, 5))
        for _ in range(int(rng.integers(1, 4))):
            last = k + int(rng.integers(0, 6))
            spans.append((k, last))
            k = last + 1 + int(rng.integers(0, 4))
        groups.append(((int(rng.integers(1, 40)), 16), f32, spans))
    found, memory = cells.arena(groups)
    for c in found:
        cells.shared(c)
    arrays = [c[0] for c in found]
    total = sum(a.nbytes for a in arrays)
    assert memory.nbytes < total  # cells never live at once do share memory
    for page in memory.cells:  # each inside one page
        for _, at, shape, dtype in page:
            assert at + int(np.prod(shape)) * dtype.itemsize <= memory.page
    for i, (a, gi) in enumerate(zip(arrays, groups)):
        for b, gj in zip(arrays[i + 1:], groups[i + 1:]):
            if cells._meet(gi[2], gj[2]):
                assert not np.shares_memory(a, b)


def test_shared_cell_held_elsewhere_is_not_overwritten() -> None:
    f32 = np.dtype(np.float32)
    (first, second), _ = cells.arena([((4, 4), f32, [(0, 1)]), ((16,), f32, [(2, 3)])])
    place = cells.shared(first).ctypes.data
    assert cells.shared(second).ctypes.data == place  # never live at once: one place
    a = cells.shared(first)
    assert a.ctypes.data == place
    a[:] = 1
    kept = a.T[1:]  # a view someone keeps past a's last use
    del a
    b = cells.shared(second)
    b[:] = 2
    np.testing.assert_array_equal(kept, 1)  # the arena was renewed, the view kept its values
    assert not np.shares_memory(kept, b)
    del kept, b
    place = cells.shared(first).ctypes.data  # nobody holds anything now: the same arena
    assert cells.shared(second).ctypes.data == place


@pytest.mark.parametrize("keep", ["tensor", "numpy", "view"])
def test_gradients_kept_past_zero_grad_keep_their_values(
        keep: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lower, "BUFFER_BYTES", 0)  # every gradient in the arena
    runs = []
    for compiled in (False, True):
        model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
        for p, q in zip(model.parameters(), params((6, 4), (6,), (3, 6), (3,)), strict=True):
            p._data[...] = q._data
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x: Tensor, model: nn.Module = model, opt: cr.optim.SGD = opt) -> Tensor:
            opt.zero_grad()
            loss = (model(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        fn = cr.compile(step) if compiled else step
        kept = []
        rng = np.random.default_rng(2)
        for _ in range(4):
            fn(cr.tensor(rng.standard_normal((5, 4)).astype(np.float32)))
            g = model[0].weight.grad
            kept.append(g if keep == "tensor" else g.numpy() if keep == "numpy" else g.numpy().T)
        runs.append([np.array(g._data if keep == "tensor" else g) for g in kept])
        if compiled:
            assert fn.stats["replays"] == 3
    for got, want in zip(*runs, strict=True):
        np.testing.assert_array_equal(got, want)
