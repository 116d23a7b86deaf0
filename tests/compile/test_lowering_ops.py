"""The lowered replay of slices (their cotangents summed sparsely into one buffer per parent, as
eager's first-order backward does), sigmoid, broadcasting arithmetic and 2-D matmul: same bits as
eager, step after step."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import CompileWarning, kernels, lower
from chainrule.tensor import Tensor


@pytest.fixture(params=["small", "buffered"])
def buffers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every result below BUFFER_BYTES (fresh arrays) or above it (buffers reused)."""
    monkeypatch.setattr(lower, "BUFFER_BYTES", 1 << 40 if request.param == "small" else 0)
    return request.param


def lstm_cell_loop(seq: int = 4, batch: int = 3, n_in: int = 5, hidden: int = 6
                   ) -> tuple[dict[str, Tensor], Any]:
    """The lecture LSTM of benchmarks/workloads/lstm_cell.py: gates as four slices of one
    product, MSE on a linear head, backward, SGD. Returns its parameters and step."""
    rng = np.random.default_rng(0)
    shapes = {"W": (n_in, 4 * hidden), "U": (hidden, 4 * hidden), "b": (4 * hidden,),
              "V": (hidden, 1)}
    p = {k: cr.tensor((rng.standard_normal(s) * 0.5).astype(np.float32), requires_grad=True)
         for k, s in shapes.items()}
    opt = cr.optim.SGD(list(p.values()), lr=0.1)
    H = hidden

    def step(xs: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        h = cr.zeros((batch, H))
        c = cr.zeros((batch, H))
        for t in range(seq):
            z = xs[t] @ p["W"] + h @ p["U"] + p["b"]
            i, f = cr.sigmoid(z[:, :H]), cr.sigmoid(z[:, H:2 * H])
            g, o = cr.tanh(z[:, 2 * H:3 * H]), cr.sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * cr.tanh(c)
        loss = ((h @ p["V"] - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return p, step


def source_of(compiled: Any) -> str:
    return compiled.cache[next(iter(compiled.cache))][0].source


def test_lstm_cell_loop_is_bit_identical_over_20_steps(buffers: str) -> None:
    want_p, eager = lstm_cell_loop()
    got_p, step = lstm_cell_loop()
    compiled = cr.compile(step)
    rng = np.random.default_rng(1)
    for _ in range(20):
        xs = cr.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32))
        y = cr.tensor(rng.standard_normal((3, 1)).astype(np.float32))
        np.testing.assert_array_equal(compiled(xs, y)._data, eager(xs, y)._data)
        for k in want_p:
            np.testing.assert_array_equal(got_p[k]._data, want_p[k]._data)
            np.testing.assert_array_equal(got_p[k].grad._data, want_p[k].grad._data)
    assert compiled.stats == {"records": 1, "replays": 19, "bails": 0}
    source = source_of(compiled)
    # the cell is written out: slices, sigmoid, the bias's add and the products; the gates'
    # cotangents tile z, so no zero fill and no dense scatter
    assert source.count("np_add(Z") == 3 * 4  # three of the four gates per step, in place
    assert "fill(0)" not in source
    assert "np_zeros" not in source
    # mul: only the loss's 0-d scaling replays through its Context (NumPy gives 0-d results as
    # scalars, which eager wraps), as every 0-d op does
    assert not {"getitem", "sigmoid", "matmul", "add", "tanh"} & _generic_calls(compiled)
    # the cell's products are written out (as operators below BUFFER_BYTES)
    assert source.count("np_multiply(") + source.count(" * ") >= 4 * 5


def _generic_calls(compiled: Any) -> set[str]:
    """Names of the ops whose forward or vjp the replay calls through their Context."""
    tape = compiled.cache[next(iter(compiled.cache))][0]
    names = set()
    for k, f in tape.run.__globals__.items():
        if re.fullmatch(r"F\d+", k):
            owner = getattr(f, "__self__", None)
            names.add(owner.name if owner is not None else f.__qualname__.split(".")[0].lower())
    return names


def slices_step(w: Tensor, index_sets: list[tuple], dense: bool = False) -> Any:
    """Cotangents of w reaching it through the slices index_sets (and a dense use of w)."""

    def step(x: Tensor) -> Tensor:
        w.grad = None
        y = w * x
        total = (cr.tanh(y) * 0.5).sum() if dense else None
        for k, idx in enumerate(index_sets):
            part = (cr.sigmoid(y[idx]) * (k + 1)).sum()
            total = part if total is None else total + part
        total.backward()
        return w.grad

    return step


@pytest.mark.parametrize(("index_sets", "dense", "tiled"), [
    ([(slice(None), slice(0, 2)), (slice(None), slice(2, 4))], False, True),  # a partition
    ([(slice(None), slice(0, 3)), (slice(None), slice(1, 4))], False, False),  # overlapping
    ([(0,), (slice(1, 3), slice(None, None, 2))], False, False),  # not all of w
    ([(slice(None), slice(0, 2)), (slice(None), slice(2, 4))], True, False),  # and a dense use
    ([(Ellipsis, 1), (None, slice(None), 0)], False, False),  # Ellipsis, None, ints
])
def test_slice_cotangents_are_eagers_sparse_sums(index_sets: list[tuple], dense: bool,
                                                  tiled: bool, buffers: str) -> None:
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    eager, compiled = slices_step(w, index_sets, dense), cr.compile(slices_step(w, index_sets,
                                                                                   dense))
    for _ in range(4):
        x = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32))
        np.testing.assert_array_equal(compiled(x)._data, eager(x)._data)
    assert compiled.stats["replays"] == 3
    source = source_of(compiled)
    assert ("np_add(Z" in source) == tiled
    assert "getitem" not in _generic_calls(compiled)


def test_slices_of_a_value_held_elsewhere_are_added_to_a_copy(buffers: str) -> None:
    w = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        w.grad = None
        y = w * x
        # y's first cotangent is y * 1's (a rule's result), then its slice's
        loss = cr.sigmoid(y[:, 1:]).sum() + (y * 1).sum()
        loss.backward()
        return w.grad

    compiled = cr.compile(step)
    for k in range(3):
        x = cr.tensor(np.full((2, 3), 0.5 + k, np.float32))
        want = step(x)._data.copy()
        np.testing.assert_array_equal(compiled(x)._data, want)
    assert "slice_add(" in source_of(compiled)


@pytest.mark.parametrize(("sa", "sb"), [((4, 6), (6,)), ((6,), (4, 6)), ((4, 1), (1, 6)),
                                        ((4, 6), ()), ((2, 4, 6), (4, 1))])
@pytest.mark.parametrize("name", ["add", "sub", "mul"])
def test_broadcasting_arithmetic_is_lowered(name: str, sa: tuple, sb: tuple,
                                            buffers: str) -> None:
    rng = np.random.default_rng(0)
    a = cr.tensor(rng.standard_normal(sa).astype(np.float32), requires_grad=True)
    b = cr.tensor(rng.standard_normal(sb).astype(np.float32), requires_grad=True)
    fn = {"add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v}[name]

    def step(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a.grad = b.grad = None
        out = fn(a * x, b)
        (out * out).sum().backward()
        return out, a.grad, b.grad

    compiled = cr.compile(step)
    for k in range(3):
        x = cr.tensor(np.full(sa, 0.25 * k + 0.5, np.float32))
        want = [t._data.copy() for t in step(x)]
        got = compiled(x)
        for g, wv in zip(got, want, strict=True):
            assert g._data.shape == wv.shape
            np.testing.assert_array_equal(g._data, wv)
    assert name not in _generic_calls(compiled)


def test_sigmoid_and_matmul_are_lowered(buffers: str) -> None:
    rng = np.random.default_rng(0)
    v = cr.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    w = cr.tensor(rng.standard_normal((5, 7)).astype(np.float32), requires_grad=True)

    def step(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        v.grad = w.grad = None
        y = cr.sigmoid((x * v) @ w)
        (y * y).sum().backward()
        return y, v.grad, w.grad

    compiled = cr.compile(step)
    for k in range(3):  # large magnitudes both ways: the stable formula's two branches
        x = cr.tensor((rng.standard_normal((4, 5)) * 10**k).astype(np.float32))
        want = [t._data.copy() for t in step(x)]
        for g, wv in zip(compiled(x), want, strict=True):
            np.testing.assert_array_equal(g._data, wv)
    assert compiled.stats["replays"] == 2
    assert not {"sigmoid", "matmul"} & _generic_calls(compiled)


def test_tiling_check() -> None:
    assert kernels.covered((2, 4), [(slice(None), slice(0, 2)), (slice(None), slice(2, None))])
    assert not kernels.covered((2, 4), [(slice(None), slice(0, 2))])
    assert not kernels.covered((2, 4), [(slice(None), slice(0, 3)), (slice(None), slice(2, 4))])


def test_backward_into_an_argument_writes_the_new_arguments_grad() -> None:
    def step(x: Tensor, w: Tensor) -> Tensor:
        x.grad = None
        (x * x * w).sum().backward()
        return x.grad

    w = cr.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    compiled = cr.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for k in range(4):
            x = cr.tensor(np.full(3, k + 2.0, np.float32), requires_grad=True)
            out = compiled(x, w)
            assert out is x.grad
            np.testing.assert_array_equal(x.grad._data, 2 * x._data * w._data)
    assert compiled.stats["replays"] == 3
    held = x.grad  # a .grad the caller kept is not overwritten by the next call
    x2 = cr.tensor(np.full(3, 7.0, np.float32), requires_grad=True)
    compiled(x2, w)
    np.testing.assert_array_equal(held._data, 2 * x._data * w._data)
    np.testing.assert_array_equal(x2.grad._data, 2 * x2._data * w._data)
    x2.grad = cr.tensor(np.ones(3, np.float32))  # accumulates when the step does not reset it

    def accumulate(x: Tensor) -> None:
        (x * x).sum().backward()

    acc = cr.compile(accumulate)
    x3 = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    for _ in range(3):
        acc(x3)
    np.testing.assert_array_equal(x3.grad._data, np.full(3, 6.0, np.float32))


def test_short_by_wide_products_are_bit_identical(buffers: str) -> None:
    """A batch of 8 against wide layers takes matmul_t's swapped product (x @ W.T as
    (W @ x.T).T, and the matmul cotangent g @ B.T alike), in eager and in the replay."""
    rng = np.random.default_rng(2)

    def model() -> tuple[list[Tensor], Any]:
        cr.manual_seed(0)  # the bias
        lin = cr.nn.Linear(96, 512)
        with cr.no_grad():
            lin.weight.copy_(cr.tensor(rng.standard_normal((512, 96)).astype(np.float32) * 0.1))
        u = cr.tensor(rng.standard_normal((512, 600)).astype(np.float32) * 0.05,
                      requires_grad=True)
        params = [*lin.parameters(), u]
        opt = cr.optim.SGD(params, lr=0.01)

        def step(x: Tensor) -> Tensor:
            opt.zero_grad()
            loss = cr.tanh(lin(x) @ u).square().mean()
            loss.backward()
            opt.step()
            return loss

        return params, step

    rng = np.random.default_rng(2)
    want, eager = model()
    rng = np.random.default_rng(2)
    got, step = model()
    compiled = cr.compile(step)
    data = np.random.default_rng(3)
    for _ in range(4):
        x = cr.tensor(data.standard_normal((8, 96)).astype(np.float32))
        np.testing.assert_array_equal(compiled(x)._data, eager(x)._data)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a._data, b._data)
    assert compiled.stats["replays"] == 3
    assert "matmul_t(" in source_of(compiled)
