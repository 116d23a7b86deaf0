"""Helpers for the tests of user-style steps under cr.compile: data, runs, comparisons."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
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


def replays_match_eager(fn: Any, calls: list[tuple], expect_eager: bool = False) -> Any:
    """fn under cr.compile over calls, each against eager fn (and whether it must fall back)."""
    compiled = cr.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if expect_eager else "error", CompileWarning)
        for args in calls:
            np.testing.assert_array_equal(compiled(*args)._data, fn(*args)._data)
    assert compiled.eager == expect_eager
    return compiled
