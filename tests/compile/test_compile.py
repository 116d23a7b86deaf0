"""cr.compile: replays equal eager steps; new signatures re-record; value dependence stays eager."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.autodiff import function
from chainrule.compile import CompileWarning
from chainrule.tensor import Tensor


def mlp_step(opt_name: str, dtype: Any, dropout: bool = False) -> tuple[nn.Module, Any]:
    """A fresh seeded MLP and its training step (zero_grad, cross-entropy, backward, step)."""
    cr.manual_seed(0)
    layers = [nn.Linear(20, 16), nn.ReLU(), *([nn.Dropout(0.5)] if dropout else []),
              nn.Linear(16, 5)]
    model = nn.Sequential(*layers)
    if dtype == np.float64:
        model.double()
    opt = (cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd"
           else cr.optim.Adam(model.parameters(), lr=0.01))

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def batches(n: int, dtype: Any, batch: int = 8) -> list[tuple[Tensor, Tensor]]:
    rng = np.random.default_rng(0)
    return [(cr.tensor(rng.standard_normal((batch, 20)).astype(dtype)),
             cr.tensor(rng.integers(0, 5, batch))) for _ in range(n)]


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize(("dtype", "tol"), [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_mlp_training_matches_eager(opt_name: str, dtype: Any, tol: float) -> None:
    eager_model, eager = mlp_step(opt_name, dtype)
    model, step = mlp_step(opt_name, dtype)
    compiled = cr.compile(step)
    for x, y in batches(8, dtype):
        want, got = eager(x, y), compiled(x, y)
        np.testing.assert_allclose(got._data, want._data, rtol=tol, atol=tol)
    assert compiled.stats == {"records": 1, "replays": 7, "bails": 0}
    for p, q in zip(model.parameters(), eager_model.parameters(), strict=True):
        assert p._data.dtype == dtype
        np.testing.assert_allclose(p._data, q._data, rtol=tol, atol=tol)
        np.testing.assert_allclose(p.grad._data, q.grad._data, rtol=tol, atol=tol)


def overhead_step() -> Any:
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.uniform(0.5, 1.0, 8).astype(np.float32), requires_grad=True)
    b = cr.tensor(rng.uniform(-0.5, 0.5, 8).astype(np.float32), requires_grad=True)

    def step(x: Tensor) -> tuple[Tensor, Tensor]:
        w.grad = None
        b.grad = None
        y = x
        for _ in range(50):
            y = cr.tanh(y * w + b)
        y.sum().backward()
        return w.grad, b.grad

    return step


def test_overhead_chain_matches_eager() -> None:
    eager, compiled = overhead_step(), cr.compile(overhead_step())
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = cr.tensor(rng.uniform(-1, 1, 8).astype(np.float32))
        for got, want in zip(compiled(x), eager(x), strict=True):
            np.testing.assert_array_equal(got._data, want._data)
    assert compiled.stats["replays"] == 3


def test_new_batch_shape_records_a_new_tape() -> None:
    _, eager = mlp_step("sgd", np.float32)
    _, step = mlp_step("sgd", np.float32)
    compiled = cr.compile(step)
    for batch in (8, 8, 5, 5, 8):
        (x, y), = batches(1, np.float32, batch)
        np.testing.assert_array_equal(compiled(x, y)._data, eager(x, y)._data)
    assert compiled.stats == {"records": 2, "replays": 3, "bails": 0}


def test_training_flag_change_records_a_new_tape() -> None:
    model, step = mlp_step("sgd", np.float32)
    compiled = cr.compile(step)
    (x, y), = batches(1, np.float32)
    compiled(x, y)
    model.eval()
    compiled(x, y)
    assert compiled.stats["records"] == 2


def test_item_inside_falls_back_with_one_warning() -> None:
    _, eager_step = mlp_step("sgd", np.float32)
    _, step = mlp_step("sgd", np.float32)

    def with_item(x: Tensor, y: Tensor) -> float:
        loss = step(x, y)
        return loss.item()  # the line the warning names

    compiled = cr.compile(with_item)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [compiled(x, y) for x, y in batches(3, np.float32)]
    assert [w.category for w in caught] == [CompileWarning]
    assert caught[0].filename == __file__
    assert "Tensor.item() reads values into Python" in str(caught[0].message)
    assert compiled.eager
    assert values == [eager_step(x, y).item() for x, y in batches(3, np.float32)]


@pytest.mark.parametrize("convert", [bool, float, np.asarray, lambda t: t.numpy()])
def test_value_conversions_are_not_compilable(convert: Any) -> None:
    w = cr.tensor(np.ones(1, np.float32), requires_grad=True)

    def step(x: Tensor) -> Tensor:
        y = (x * w).sum()
        convert(y)
        return y

    compiled = cr.compile(step)
    with pytest.warns(CompileWarning, match="reads values into Python"):
        compiled(cr.tensor(np.ones(1, np.float32)))
    assert compiled.eager


def test_dropout_replays_fresh_masks_from_the_global_generator() -> None:
    _, eager = mlp_step("sgd", np.float32, dropout=True)
    _, step = mlp_step("sgd", np.float32, dropout=True)
    compiled = cr.compile(step)
    data = batches(3, np.float32)
    cr.manual_seed(5)
    want = [eager(x, y)._data for x, y in data]
    cr.manual_seed(5)
    got = [compiled(x, y)._data for x, y in data]
    np.testing.assert_array_equal(got, want)
    assert compiled.stats == {"records": 1, "replays": 2, "bails": 0}


def test_ignored_targets_changing_the_mean_run_eagerly() -> None:
    """The mean's normaliser depends on how many targets are ignored: a value guard."""
    _, eager = mlp_step("sgd", np.float32)
    _, step = mlp_step("sgd", np.float32)
    compiled = cr.compile(step)
    data = batches(3, np.float32)
    data[2][1]._data[:3] = -100  # ignore_index
    for x, y in data:
        np.testing.assert_array_equal(compiled(x, y)._data, eager(x, y)._data)
    assert compiled.stats == {"records": 1, "replays": 1, "bails": 1}


class _Count:
    """Counts the Tensors and Contexts the engine makes (every path goes through these)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tensors = self.contexts = 0
        new, make, ctx_cls = function._new, Tensor._make.__func__, function.Context
        counter = self

        def counting_new(cls: type) -> Any:
            counter.tensors += cls is Tensor
            return new(cls)

        def counting_make(cls: type, *args: Any) -> Any:
            counter.tensors += 1
            return make(cls, *args)

        class CountingContext(ctx_cls):  # type: ignore[misc, valid-type]
            __slots__ = ()

            def __init__(self) -> None:
                counter.contexts += 1

        monkeypatch.setattr(function, "_new", counting_new)
        monkeypatch.setattr(Tensor, "_make", classmethod(counting_make))
        monkeypatch.setattr(function, "Context", CountingContext)


def test_replay_creates_no_tensors(monkeypatch: pytest.MonkeyPatch) -> None:
    count = _Count(monkeypatch)
    _, step = mlp_step("adam", np.float32)
    compiled = cr.compile(step)
    data = batches(4, np.float32)
    compiled(*data[0])
    recorded = (count.tensors, count.contexts)
    assert recorded[0] > 0
    assert recorded[1] == 4  # linear, relu, linear, cross-entropy
    for x, y in data[1:]:
        compiled(x, y)
    assert compiled.stats["replays"] == 3
    # the returned loss is the only Tensor; parameters' .grad reuse the tape's spare Tensors
    assert (count.tensors, count.contexts) == (recorded[0] + 3, recorded[1])


def test_engine_hook_is_off_outside_recording() -> None:
    _, step = mlp_step("sgd", np.float32)
    compiled = cr.compile(step)
    compiled(*batches(1, np.float32)[0])
    assert function.RECORDER is None
    assert isinstance(Tensor.__dict__["grad"], type(Tensor.__dict__["_data"]))


def test_computing_with_a_grad_read_in_the_step_reads_it_on_replay() -> None:
    model, _ = mlp_step("sgd", np.float32)

    def penalised(x: Tensor, y: Tensor) -> Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return (model[0].weight.grad * 2.0).sum()  # .grad accumulates over the calls

    compiled = cr.compile(penalised)
    data = batches(3, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = [compiled(x, y)._data for x, y in data]
    assert compiled.stats["replays"] == 2
    model, _ = mlp_step("sgd", np.float32)
    for (x, y), g in zip(data, got, strict=True):
        np.testing.assert_array_equal(g, penalised(x, y)._data)


def test_a_backward_into_a_leaf_the_step_made_runs_eagerly() -> None:
    """x.clone().requires_grad_() is a new leaf each call: its .grad is not the recorded one."""
    model, _ = mlp_step("sgd", np.float32)

    def input_gradient(x: Tensor, y: Tensor) -> Tensor:
        x = x.clone().requires_grad_()
        nn.functional.cross_entropy(model(x), y).backward()
        return x.grad

    compiled = cr.compile(input_gradient)
    data = batches(3, np.float32)
    with pytest.warns(CompileWarning, match="made a leaf"):
        got = [compiled(x, y)._data for x, y in data]
    for (x, y), g in zip(data, got, strict=True):
        np.testing.assert_array_equal(g, input_gradient(x, y)._data)


def test_copying_an_argument_outside_ops_is_not_compilable() -> None:
    compiled = cr.compile(lambda x: cr.tensor(x) * 2.0)
    with pytest.warns(CompileWarning, match="made from a recorded value"):
        compiled(cr.tensor(np.ones(3, np.float32)))


def test_zero_grad_lets_go_of_the_old_gradients_before_the_forward() -> None:
    """As in eager, the arrays of the .grads that zero_grad dropped are freed then, not kept
    by the tape until the backward: a probe op in the forward finds them gone."""
    import weakref

    from chainrule.autodiff.function import Function

    seen: list[bool] = []
    old: list[Any] = []

    class Probe(Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            seen.append(bool(old) and old[-1]() is not None)
            return x.copy()

        @staticmethod
        def vjp(ctx: Any, g: Any) -> Any:
            return g

    lin = nn.Linear(64, 64)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)

    @cr.compile
    def step(x: Tensor) -> Tensor:
        opt.zero_grad()
        loss = Probe.apply(lin(x)).square().mean()
        loss.backward()
        opt.step()
        return loss

    x = cr.randn(16, 64)
    for _ in range(4):
        step(x)
        old.append(weakref.ref(lin.weight.grad._data))
    assert step.stats["replays"] == 3
    assert seen[1:] == [False, False, False]
