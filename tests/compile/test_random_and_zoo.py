"""cr.compile on the zoo models: random draws and BatchNorm's running statistics replayed, so a
compiled and an eager run from the same seed are bit-identical step after step."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule import models
from chainrule.compile import CompileWarning
from chainrule.tensor import Tensor

ZOO: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {
    "mlp": ((1, 6, 6), {"hidden": (16,), "dropout": 0.3}),
    "lenet5": ((1, 8, 8), {}),  # 8x8 inputs: dropout 0.3 before the hidden layers
    "lstm": ((1, 5, 6), {"hidden": 8}),
    "resnet": ((1, 6, 6), {"widths": (4, 8)}),
}


def zoo_step(name: str) -> tuple[nn.Module, Any]:
    """A seeded zoo model and the training loop's step: forward, loss, zero_grad, backward,
    Adam step; returns (loss, logits)."""
    shape, kwargs = ZOO[name]
    cr.manual_seed(0)
    model = models.build(name, shape, 4, **kwargs)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        out = model(x)
        loss = loss_fn(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, out

    return model, step


def zoo_data(name: str, n: int, batch: int = 6) -> list[tuple[Tensor, Tensor]]:
    shape = ZOO[name][0]
    rng = np.random.default_rng(1)
    return [(cr.tensor(rng.standard_normal((batch, *shape)).astype(np.float32)),
             cr.tensor(rng.integers(0, 4, batch))) for _ in range(n)]


def run(step: Any, data: list, seed: int) -> list[np.ndarray]:
    cr.manual_seed(seed)
    return [step(x, y)[0]._data.copy() for x, y in data]


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_training_is_bit_identical_to_eager_over_100_steps(name: str) -> None:
    eager_model, eager = zoo_step(name)
    model, step = zoo_step(name)
    compiled = cr.compile(step)
    data = zoo_data(name, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = run(compiled, data * 10, seed=7)
    after_compiled = cr.rand(3)._data  # the generator is where eager leaves it
    want = run(eager, data * 10, seed=7)
    np.testing.assert_array_equal(after_compiled, cr.rand(3)._data)
    assert compiled.stats == {"records": 1, "replays": 99, "bails": 0}
    np.testing.assert_array_equal(got, want)
    state, eager_state = model.state_dict(), eager_model.state_dict()
    assert list(state) == list(eager_state)
    for k in state:  # weights, and BatchNorm's running statistics and counter
        np.testing.assert_array_equal(np.asarray(state[k]), np.asarray(eager_state[k]), k)


def test_dropout_draws_differ_between_replays() -> None:
    cr.manual_seed(0)
    x = cr.tensor(np.ones((4, 8), np.float32))
    compiled = cr.compile(lambda x: nn.functional.dropout(x, 0.5))
    masks = [compiled(x)._data.copy() for _ in range(3)]
    assert compiled.stats["replays"] == 2
    assert not np.array_equal(masks[1], masks[2])


def test_random_factories_and_generators_replay_in_eager_order() -> None:
    gen = cr.Generator().manual_seed(3)
    npgen = np.random.default_rng(4)

    def step(x: Tensor) -> Tensor:
        a = x + cr.randn(*x.shape)
        b = a * cr.rand(x.shape, generator=gen)
        return nn.functional.dropout(b, 0.25, rng=npgen) - cr.randn(x.shape, rng=npgen)

    def runs(fn: Any) -> list[np.ndarray]:
        cr.manual_seed(1)
        gen.manual_seed(3)
        npgen.bit_generator.state = np.random.default_rng(4).bit_generator.state
        x = cr.tensor(np.ones((3, 5), np.float32))
        return [fn(x)._data for _ in range(4)]

    compiled = cr.compile(step)
    np.testing.assert_array_equal(runs(compiled), runs(step))
    assert compiled.stats == {"records": 1, "replays": 3, "bails": 0}


def test_batchnorm_eval_and_layernorm_replay() -> None:
    def build() -> nn.Module:
        cr.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.LayerNorm(6))

    model, eager = build(), build()

    def forward(x: Tensor) -> Tensor:
        with cr.no_grad():  # with grad on, the output's graph would keep it eager
            return model(x)

    compiled = cr.compile(forward)
    rng = np.random.default_rng(0)
    for training in (True, True, True, False, False):
        model.train(training)
        eager.train(training)
        x = cr.tensor(rng.standard_normal((4, 5)).astype(np.float32))
        np.testing.assert_array_equal(compiled(x)._data, eager(x)._data)
        for k, v in eager.state_dict().items():
            np.testing.assert_array_equal(np.asarray(model.state_dict()[k]), np.asarray(v))
    assert compiled.stats == {"records": 2, "replays": 3, "bails": 0}
    assert int(model[1].num_batches_tracked._data) == 3


def test_batchnorm_cumulative_average_is_not_compilable() -> None:
    model = nn.BatchNorm1d(3, momentum=None)
    compiled = cr.compile(lambda x: model(x))
    with pytest.warns(CompileWarning, match="momentum=None"):
        compiled(cr.tensor(np.ones((4, 3), np.float32)))


def test_reading_a_random_scalar_is_not_compilable() -> None:
    from chainrule import creation

    def step(x: Tensor) -> Tensor:
        return x * float(creation.default_rng().random())

    compiled = cr.compile(step)
    with pytest.warns(CompileWarning, match="read into Python"):
        compiled(cr.tensor(np.ones(2, np.float32)))


def test_a_random_leaf_made_inside_is_not_compilable() -> None:
    def step(x: Tensor) -> Tensor:
        w = cr.randn(3, requires_grad=True)
        (x * w).sum().backward()
        return w.grad

    compiled = cr.compile(step)
    with pytest.warns(CompileWarning, match="requires_grad=True"):
        compiled(cr.tensor(np.ones(3, np.float32)))
