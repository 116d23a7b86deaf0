"""Every row of the op table under cr.compile: a step recorded on one draw of the operands and
replayed on another gives eager's loss and gradients, bit for bit, or runs eagerly with a
warning. A replay that reused a recorded value (an index, a mask, a shape) would differ here."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, Sample, rows

import chainrule as cr
from chainrule.compile import CompileWarning


def _step(spec: OpSpec, sample: Sample, w: np.ndarray) -> Any:
    fn = spec.bind(sample)
    w = cr.tensor(w)  # a captured Tensor: read live on replay (an ndarray would send it eager)

    def step(*xs: cr.Tensor) -> cr.Tensor:
        y = fn(*xs)
        loss = (y * y * w).sum()
        loss.backward()
        return loss

    return step


def _run(step: Any, args: tuple[np.ndarray, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    xs = [cr.tensor(a, requires_grad=True) for a in args]
    loss = step(*xs)
    return np.array(loss._data), [np.array(x.grad._data) for x in xs if x.grad is not None]


@pytest.mark.parametrize("spec", rows("compiled"))
def test_compiled_replay_matches_eager_on_new_values(spec: OpSpec) -> None:
    rng = np.random.default_rng(7)
    first, second = spec.sample(rng), spec.sample(rng)
    for s1, s2 in zip(first, second, strict=True):
        with cr.no_grad():
            out = spec.bind(s1)(*[cr.tensor(a) for a in s1.args])
        w = rng.standard_normal(np.shape(out._data)).astype(np.asarray(out._data).dtype)
        eager = _step(spec, s2, w)
        compiled = cr.compile(_step(spec, s1, w))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompileWarning)  # running eagerly is honest
            _run(compiled, s1.args)  # records
            got_loss, got_grads = _run(compiled, s2.args)  # replays on new values
        want_loss, want_grads = _run(eager, s2.args)
        np.testing.assert_array_equal(got_loss, want_loss, err_msg=f"{spec.name} {s2}")
        assert len(got_grads) == len(want_grads)
        for g, h in zip(got_grads, want_grads, strict=True):
            np.testing.assert_array_equal(g, h, err_msg=f"{spec.name} {s2}")
