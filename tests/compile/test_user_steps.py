"""cr.compile on training steps written the way users write them: each must be recorded (no
fallback warning) and give eager's bits step after step."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.compile import CompileWarning
from chainrule.tensor import Tensor
from chainrule.torch import autograd as torch_autograd
from chainrule.torch.nn import utils as torch_utils

Build = Callable[[], tuple[nn.Module, Any, list[tuple[Tensor, Tensor]]]]


def regression(n_in: int, n_out: int, batch: int = 8, n: int = 3) -> list[tuple[Tensor, Tensor]]:
    rng = np.random.default_rng(1)
    return [(cr.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)),
             cr.tensor(rng.standard_normal((batch, n_out)).astype(np.float32)))
            for _ in range(n)]


def run(build: Build, compiled: bool, steps: int = 7) -> tuple[list, list, Any]:
    """Losses and final parameters of `steps` calls of the built step, and the Compiled."""
    cr.manual_seed(0)
    model, step, data = build()
    fn = cr.compile(step) if compiled else step
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # a fallback fails the test
        losses = [np.array(fn(*data[i % len(data)])._data) for i in range(steps)]
    return losses, [p._data.copy() for p in model.parameters()], fn


def assert_bit_identical(build: Build) -> None:
    want_losses, want_params, _ = run(build, False)
    losses, params, compiled = run(build, True)
    assert compiled.stats == {"records": 1, "replays": len(losses) - 1, "bails": 0}
    for got, want in zip(losses + params, want_losses + want_params, strict=True):
        np.testing.assert_array_equal(got, want)


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


def head_step(loss_of: Callable[[Tensor, Tensor], Tensor]) -> Build:
    """A linear layer trained with SGD on loss_of(output, target)."""

    def build() -> tuple[nn.Module, Any, list]:
        model = nn.Linear(6, 3)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            loss = loss_of(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return model, step, regression(6, 3)

    return build


MASKED = {
    "where": lambda o, y: F.mse_loss(cr.where(o > 0, o, 0.1 * o), y),
    "mask as float": lambda o, y: ((o - y) ** 2 * (y > 0).float()).mean(),
    "inverted mask": lambda o, y: ((o - y) ** 2 * (~(y > 0)).float()).mean(),
    "masks combined": lambda o, y: ((o - y) ** 2 * ((y > -0.5) & (y < 0.5)).float()).mean(),
    "argmax compared": lambda o, y: ((o - y) ** 2 * (o.argmax(1, keepdim=True) == 1)).mean(),
    "sign": lambda o, y: (o * cr.sign(y)).sum(),
    "sort indices": lambda o, y: (o.gather(1, o.sort(1)[1]) * y).sum(),
    "topk": lambda o, y: o.topk(2, dim=1)[0].sum() + (o * y).sum(),
    "max over a dim": lambda o, y: (o.max(1)[0] - y.max(1).values).pow(2).mean(),
    "any": lambda o, y: (o * y).sum() * (y > 1).any(1).float().mean(),
    "count_nonzero": lambda o, y: (o * y).sum() / (cr.count_nonzero(y > 0) + 1).float(),
    "0-d arithmetic": lambda o, y: cr.sigmoid((o * y).sum() * 0.1) - cr.tanh(o.mean()).clip(
        -0.5, 0.5),
    "smooth_l1_loss": lambda o, y: F.smooth_l1_loss(o, y),
    "huber_loss": lambda o, y: F.huber_loss(o, y, delta=0.5),
}


@pytest.mark.parametrize("name", list(MASKED))
def test_masks_of_the_step_values_are_recomputed_on_replay(name: str) -> None:
    assert_bit_identical(head_step(MASKED[name]))


def lookup(kind: str) -> Build:
    """An index argument selecting rows: nn.Embedding, x[i] and gather."""

    def build() -> tuple[nn.Module, Any, list]:
        emb, head = nn.Embedding(10, 4), nn.Linear(4, 1)
        model = nn.ModuleList([emb, head])
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(i: Tensor, y: Tensor) -> Tensor:
            opt.zero_grad()
            if kind == "embedding":
                out = head(emb(i)).squeeze(-1)
            elif kind == "getitem":
                out = head(emb.weight[i]).squeeze(-1)
            else:
                out = head(emb.weight).squeeze(-1).gather(0, i)
            loss = F.mse_loss(out, y)
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(2)
        data = [(cr.tensor(rng.integers(0, 10, 6)),
                 cr.tensor(rng.standard_normal(6).astype(np.float32))) for _ in range(3)]
        return model, step, data

    return build


@pytest.mark.parametrize("kind", ["embedding", "getitem", "gather"])
def test_indices_given_to_the_step_are_read_on_replay(kind: str) -> None:
    assert_bit_identical(lookup(kind))


@pytest.mark.parametrize(("loss_of", "why"), [
    (lambda o, y: ((o - y)[y > 0] ** 2).sum(), "boolean mask"),
    (lambda o, y: o.flatten()[(y.flatten() > 0).nonzero().flatten()].sum(),
     "library code computed"),
])
def test_value_dependent_indexing_runs_eagerly_with_a_warning(loss_of: Any, why: str) -> None:
    build = head_step(loss_of)
    want, want_params, _ = run(build, False)
    cr.manual_seed(0)
    model, step, data = build()
    compiled = cr.compile(step)
    with pytest.warns(CompileWarning, match=why):
        got = [np.array(compiled(*data[i % len(data)])._data) for i in range(len(want))]
    assert compiled.eager
    for a, b in zip(got + [p._data for p in model.parameters()], want + want_params,
                    strict=True):
        np.testing.assert_array_equal(a, b)


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


class _Square(torch_autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return 2 * x * g


LOSSES = {
    "custom autograd.Function": lambda o, y: F.mse_loss(_Square.apply(o), y * y),
    "constant targets": lambda o, y: F.cross_entropy(o @ o.T, cr.arange(o.shape[0])),
    "kl_div on one_hot": lambda o, y: F.kl_div(
        F.log_softmax(o, dim=1), F.one_hot(y.argmax(1), 3).float() * 0.9 + 0.1 / 3,
        reduction="batchmean"),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_library_losses_and_functions_are_recorded(name: str) -> None:
    assert_bit_identical(head_step(LOSSES[name]))


def test_one_hot_reading_its_classes_from_the_values_runs_eagerly() -> None:
    step = cr.compile(lambda y: F.one_hot(y).float().sum())
    with pytest.warns(CompileWarning, match="one_hot without num_classes"):
        assert float(step(cr.tensor(np.array([0, 2])))) == 2.0
    assert float(step(cr.tensor(np.array([0, 4])))) == 2.0


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


@pytest.mark.parametrize("loss_of", [
    lambda a, b, t: F.cosine_embedding_loss(a, b, t),
    lambda a, b, t: F.hinge_embedding_loss((a - b).sum(1), t),
    lambda a, b, t: F.margin_ranking_loss(a.sum(1), b.sum(1), t),
])
def test_losses_masking_by_a_target_argument_match_eager(loss_of: Any) -> None:
    """Library code computing masks from the target's values: replayed, never the recorded
    mask (the inputs need no gradient: a returned graph would keep the function eager)."""
    rng = np.random.default_rng(6)
    a = cr.tensor(rng.standard_normal((6, 4)))
    b = cr.tensor(rng.standard_normal((6, 4)))
    step = cr.compile(lambda a, b, t: loss_of(a, b, t))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(3):
            t = cr.tensor(rng.choice([-1.0, 1.0], 6))
            np.testing.assert_array_equal(step(a, b, t)._data, loss_of(a, b, t)._data)
    assert step.stats["replays"] == 2


_TARGETED = {  # loss(a, t) and how to draw t
    "cosine_embedding, 0-d target": (
        lambda a, t: F.cosine_embedding_loss(a[0], a[1], t),
        lambda rng: cr.tensor(np.array(rng.choice([-1.0, 1.0])))),
    "multi_margin": (
        lambda a, t: F.multi_margin_loss(a, t, weight=np.array([1.0, 2.0, 0.5, 1.0])),
        lambda rng: cr.tensor(rng.integers(0, 4, 6))),
    "gaussian_nll, var given": (
        lambda a, t: F.gaussian_nll_loss(a, a * 0.5, t),
        lambda rng: cr.tensor(rng.uniform(-1e-7, 1.0, (6, 4)))),
}


@pytest.mark.parametrize("name", list(_TARGETED))
def test_losses_computing_from_a_target_argument_match_eager(name: str) -> None:
    loss_of, draw = _TARGETED[name]
    rng = np.random.default_rng(8)
    a = cr.tensor(rng.standard_normal((6, 4)))
    step = cr.compile(loss_of)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(4):
            t = draw(rng)
            np.testing.assert_array_equal(step(a, t)._data, loss_of(a, t)._data)
    assert step.stats["replays"] == 3


def _replays_match_eager(fn: Any, calls: list[tuple], expect_eager: bool = False) -> Any:
    """fn under cr.compile over calls, each against eager fn (and whether it must fall back)."""
    compiled = cr.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if expect_eager else "error", CompileWarning)
        for args in calls:
            np.testing.assert_array_equal(compiled(*args)._data, fn(*args)._data)
    assert compiled.eager == expect_eager
    return compiled


def test_branches_on_values_in_library_code_are_replayed() -> None:
    """Dead attention rows, embedding padding and softplus's threshold are decided by values
    that change between calls: masks now, not Python branches the recording would fix."""
    rng = np.random.default_rng(9)
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    emb = nn.Embedding(5, 3, padding_idx=0)
    x = cr.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))

    def attend(m: Tensor) -> Tensor:
        with cr.no_grad():
            return mha(x, x, x, attn_mask=m)[0]

    live, dead = np.zeros((3, 3), bool), np.zeros((3, 3), bool)
    dead[1] = True  # row 1 sees no key: weights 0, not NaN
    _replays_match_eager(attend, [(cr.tensor(live),), (cr.tensor(dead),), (cr.tensor(live),)])

    def lookup(i: Tensor) -> Tensor:
        emb.zero_grad()
        out = emb(i)
        (out * out).sum().backward()
        return emb.weight.grad

    _replays_match_eager(lookup, [(cr.tensor(np.array([1, 2])),), (cr.tensor(np.array([0, 2])),)])

    def soft(z: Tensor) -> Tensor:
        return F.softplus(z, beta=2.0, threshold=5.0)

    _replays_match_eager(soft, [(cr.tensor(np.array([0.5, 1.0])),),
                                (cr.tensor(np.array([0.5, 4.0])),)])


def test_branches_that_stay_in_python_run_eagerly() -> None:
    """cumprod's rule for zeros and SciPy's support masks read values into NumPy."""
    _replays_match_eager(lambda a: cr.cumprod(a, 0), [(cr.tensor(np.array([1.0, 2.0])),),
                                                      (cr.tensor(np.array([0.0, 2.0])),)],
                         expect_eager=True)
    _replays_match_eager(lambda k: cr.scipy.stats.poisson.logpmf(k, 2.0),
                         [(cr.tensor(np.array([1.0, 2.0])),), (cr.tensor(np.array([-1.0, 2.0])),)],
                         expect_eager=True)
