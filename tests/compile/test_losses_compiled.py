"""Every loss of tests/nn/test_loss.py under cr.compile: recorded on one draw of its inputs and
replayed on another, it gives eager's value and gradients bit for bit, or runs eagerly with a
warning (a target whose values change the loss's normaliser, say)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import CompileWarning

pytest.importorskip("torch")  # the loss table builds the torch reference modules too
from nn.test_loss import NAMES, REDUCTIONS, _cases


def _run(step: Any, loss: Any, inputs: list, diff: tuple) -> tuple[np.ndarray, list]:
    xs = [cr.tensor(a, requires_grad=i in diff and a.dtype.kind == "f")
          for i, a in enumerate(inputs)]
    out = step(loss, *xs)
    return np.array(out._data), [np.array(xs[i].grad._data) for i in diff]


def _step(loss: Any, *xs: cr.Tensor) -> cr.Tensor:
    value = loss(*xs)
    value.sum().backward()
    return value


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_compiled_loss_matches_eager_on_new_values(name: str, reduction: str) -> None:
    first = _cases(np.float64, reduction, np.random.default_rng(1))[name]
    second = _cases(np.float64, reduction, np.random.default_rng(2))[name]
    loss, _, inputs, diff = first
    compiled = cr.compile(_step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)  # running eagerly is honest
        _run(compiled, loss, inputs, diff)  # records
        got, got_grads = _run(compiled, loss, second[2], diff)
    want, want_grads = _run(_step, loss, second[2], diff)
    np.testing.assert_array_equal(got, want)
    for g, h in zip(got_grads, want_grads, strict=True):
        np.testing.assert_array_equal(g, h)
