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
