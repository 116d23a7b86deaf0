"""cr.compile on training steps written the way users write them: several backward passes, gradient
clipping, recurrent cells, targets computed in the step, in-place ops, captured NumPy arrays.
Each must be recorded (no fallback warning) and give eager's bits step after step."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.compile import CompileWarning
from chainrule.tensor import Tensor
from chainrule.torch.nn import utils as torch_utils

from .user_steps import Build, assert_bit_identical, regression, run


def accumulate_two_halves() -> tuple[nn.Module, Any, list]:
    """Gradient accumulation: two backward passes into the same .grad before the step."""
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        for part in (slice(0, 4), slice(4, 8)):
            loss = F.mse_loss(model(x[part]), y[part])
            loss.backward()
        opt.step()
        return loss

    return model, step, regression(3, 1)


def two_losses_retain_graph() -> tuple[nn.Module, Any, list]:
    """Two losses on one output, the first backward keeping the graph for the second."""
    model = nn.Linear(4, 2)
    opt = cr.optim.Adam(model.parameters(), lr=0.05)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        out = model(x)
        first = F.mse_loss(out, y)
        first.backward(retain_graph=True)
        second = (out * out).mean()
        second.backward()
        opt.step()
        return first

    return model, step, regression(4, 2)


@pytest.mark.parametrize("build", [accumulate_two_halves, two_losses_retain_graph])
def test_several_backward_passes_in_a_step_are_bit_identical(build: Build) -> None:
    assert_bit_identical(build)


def cell_loop(cell_type: type) -> Build:
    """A recurrent cell stepped over time from its default zero state (hx not given)."""

    def build() -> tuple[nn.Module, Any, list]:
        cell, head = cell_type(5, 8, bias=cell_type is not nn.GRUCell), nn.Linear(8, 2)
        model = nn.ModuleList([cell, head])
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            state = None
            for t in range(x.shape[1]):
                state = cell(x[:, t], state)
            h = state[0] if isinstance(state, tuple) else state
            loss = F.mse_loss(head(h), y)
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(3)
        data = [(cr.tensor(rng.standard_normal((4, 6, 5)).astype(np.float32)),
                 cr.tensor(rng.standard_normal((4, 2)).astype(np.float32))) for _ in range(3)]
        return model, step, data

    return build


@pytest.mark.parametrize("cell_type", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_recurrent_cells_from_their_zero_state_are_recorded(cell_type: type) -> None:
    assert_bit_identical(cell_loop(cell_type))


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_gradient_clipping_is_replayed_on_the_new_gradients(clip: str) -> None:
    def build() -> tuple[nn.Module, Any, list]:
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = cr.optim.Adam(model.parameters(), lr=0.05)

        def step(x: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            if clip == "norm":  # the step's result: the norm before clipping
                loss = torch_utils.clip_grad_norm_(model.parameters(), max_norm=0.6)
            else:
                nn.utils.clip_grad_value_(model.parameters(), 0.05)
            opt.step()
            return loss

        return model, step, regression(6, 3)

    assert_bit_identical(build)
    norms, _, _ = run(build, True)
    if clip == "norm":  # some steps clip, some do not: the branch is taken on replay
        assert min(norms) < 0.6 < max(norms)


def language_model() -> tuple[nn.Module, Any, list]:
    """Embedding, LSTM and a head over every position; the targets are reshaped in the step."""

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(12, 6)
            self.rnn = nn.LSTM(6, 8, batch_first=True)
            self.head = nn.Linear(8, 12)

        def forward(self, x: Tensor) -> Tensor:
            return self.head(self.rnn(self.emb(x))[0])

    model = Model()
    opt = cr.optim.RMSprop(model.parameters(), lr=1e-2)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, 12), y.reshape(-1), ignore_index=0)
        loss.backward()
        opt.step()
        return loss

    rng = np.random.default_rng(4)
    data = [(cr.tensor(rng.integers(0, 12, (3, 5))), cr.tensor(rng.integers(1, 12, (3, 5))))
            for _ in range(3)]
    return model, step, data


def accuracy_of_the_batch() -> tuple[nn.Module, Any, list]:
    """Targets as one-hot rows turned into class indices in the step, and the batch accuracy."""
    model = nn.Linear(6, 3)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        out = model(x)
        labels = y.argmax(1)
        loss = F.cross_entropy(out, labels)
        loss.backward()
        opt.step()
        return loss + (out.argmax(1) == labels).float().mean()

    return model, step, regression(6, 3)


@pytest.mark.parametrize("build", [language_model, accuracy_of_the_batch])
def test_targets_computed_in_the_step_are_recorded(build: Build) -> None:
    assert_bit_identical(build)


def test_a_computed_target_whose_normaliser_changes_reruns_eagerly() -> None:
    """ignore_index hit in one batch only: its replay stops at the guard and runs eagerly."""
    def build() -> tuple[nn.Module, Any, list]:
        model, step, data = language_model()
        y = data[1][1]._data.copy()
        y[0, :2] = 0  # two ignored positions: another denominator
        data[1] = (data[1][0], cr.tensor(y))
        return model, step, data

    want, want_params, _ = run(build, False)
    got, params, compiled = run(build, True)
    assert compiled.stats["bails"] >= 2
    for a, b in zip(got + params, want + want_params, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_target_computed_after_a_random_draw_runs_eagerly() -> None:
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 3))

    def step(x: Tensor, y: Tensor) -> Tensor:
        out = model(x)
        loss = F.cross_entropy(out, y.argmax(1))
        loss.backward()
        return loss

    with pytest.warns(CompileWarning, match="after a random draw"):
        cr.compile(step)(*regression(6, 3, n=1)[0])


class _Residual(nn.Module):
    """torchvision's basic block: ``out += identity`` in place on a tensor with a graph."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 6), nn.Linear(6, 6)

    def forward(self, x: Tensor) -> Tensor:
        out = self.b(F.relu(self.a(x)))
        out += x
        return F.relu(out)


def in_place(kind: str) -> Build:
    def build() -> tuple[nn.Module, Any, list]:
        model = nn.Sequential(_Residual(), nn.Linear(6, 3))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x: Tensor, y: Tensor) -> Tensor:
            if kind == "manual sgd":  # no optimizer: the update in place under no_grad
                model.zero_grad()
                loss = F.mse_loss(model(x), y)
                loss.backward()
                with cr.no_grad():
                    for p in model.parameters():
                        p -= 0.1 * p.grad
                return loss
            opt.zero_grad()
            if kind == "setitem":
                x = x.clone()
                x[:, 0] = 0.0
                x.add_(1.0)
            out = model(x)
            if kind == "mul_":
                out.mul_((y > 0).float() + 0.5)
            loss = F.mse_loss(out, y)
            loss.backward()
            opt.step()
            return loss

        return model, step, regression(6, 3)

    return build


@pytest.mark.parametrize("kind", ["residual +=", "setitem", "mul_", "manual sgd"])
def test_in_place_ops_in_the_step_are_replayed(kind: str) -> None:
    assert_bit_identical(in_place(kind))


def test_a_forward_returning_its_graph_runs_eagerly_so_a_backward_outside_works() -> None:
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    forward = cr.compile(lambda x: model(x))
    x = cr.tensor(np.ones((4, 3), np.float32))
    with pytest.warns(CompileWarning, match="returns a tensor with a graph"):
        forward(x).sum().backward()
    forward(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad._data, np.full((2, 3), 8.0, np.float32))


_X = np.random.default_rng(5).standard_normal((20, 3))
_Y = _X @ np.array([1.0, -2.0, 0.5]) + 0.1


def _least_squares(w: Tensor) -> Tensor:
    return cr.mean((cr.matmul(_X, w) - _Y) ** 2)  # NumPy arrays the step captures


def test_numpy_arrays_the_step_captures_are_its_constants() -> None:
    """As jax.jit's: read by reference, so an in-place update shows; not sent to eager."""
    grad = cr.grad(_least_squares)
    compiled = cr.compile(lambda w: cr.grad(_least_squares)(w))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for w0 in ([0.0, 0.0, 0.0], [1.0, -1.0, 2.0]):
            w = cr.tensor(np.array(w0))
            np.testing.assert_array_equal(compiled(w)._data, grad(w)._data)
        _X[:] *= 2  # in place: the tape reads the same array
        try:
            w = cr.tensor(np.array([0.5, 0.5, 0.5]))
            np.testing.assert_array_equal(compiled(w)._data, grad(w)._data)
        finally:
            _X[:] /= 2
    assert compiled.stats == {"records": 1, "replays": 2, "bails": 0}
