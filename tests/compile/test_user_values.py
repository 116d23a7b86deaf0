"""cr.compile on values a step computes without a gradient: masks, indices, targets, and the
library code that reads values (losses, activations, attention). Each is replayed on the new values
or sends the step to eager with a warning, never replayed from the recording."""

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
from chainrule.torch import autograd as torch_autograd

from .user_steps import Build, assert_bit_identical, head_step, replays_match_eager, run

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
    replays_match_eager(attend, [(cr.tensor(live),), (cr.tensor(dead),), (cr.tensor(live),)])

    def lookup(i: Tensor) -> Tensor:
        emb.zero_grad()
        out = emb(i)
        (out * out).sum().backward()
        return emb.weight.grad

    replays_match_eager(lookup, [(cr.tensor(np.array([1, 2])),), (cr.tensor(np.array([0, 2])),)])

    def soft(z: Tensor) -> Tensor:
        return F.softplus(z, beta=2.0, threshold=5.0)

    replays_match_eager(soft, [(cr.tensor(np.array([0.5, 1.0])),),
                                (cr.tensor(np.array([0.5, 4.0])),)])


def test_branches_that_stay_in_python_run_eagerly() -> None:
    """cumprod's rule for zeros and SciPy's support masks read values into NumPy."""
    replays_match_eager(lambda a: cr.cumprod(a, 0), [(cr.tensor(np.array([1.0, 2.0])),),
                                                      (cr.tensor(np.array([0.0, 2.0])),)],
                         expect_eager=True)
    replays_match_eager(lambda k: cr.scipy.stats.poisson.logpmf(k, 2.0),
                         [(cr.tensor(np.array([1.0, 2.0])),), (cr.tensor(np.array([-1.0, 2.0])),)],
                         expect_eager=True)


def test_an_input_check_runs_on_every_replay() -> None:
    """binary_cross_entropy refuses inputs outside [0, 1] on a replay as eager does."""
    step = cr.compile(lambda p, t: F.binary_cross_entropy(p, t))
    t = cr.tensor(np.array([0.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        step(cr.tensor(np.array([0.2, 0.7])), t)
        step(cr.tensor(np.array([0.4, 0.9])), t)
    with pytest.raises(ValueError, match="between 0 and 1"):
        step(cr.tensor(np.array([0.4, 1.5])), t)
    assert step.stats["replays"] >= 1
