"""Adagrad: trajectories equal PyTorch's for every option, in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from reference import to_numpy

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import assert_same_trajectory, chainrule_run, torch_run

CASES = {
    "plain": ({"lr": 0.1}, ({}, {"lr": 0.05})),
    "lr_decay": ({"lr": 0.1, "lr_decay": 0.05}, ({}, {"lr_decay": 0.0})),
    "initial_accumulator": ({"lr": 0.1, "initial_accumulator_value": 0.5}, ({}, {"lr": 0.02})),
    "weight_decay": ({"lr": 0.1, "weight_decay": 0.1}, ({}, {"weight_decay": 0.0})),
    "all": ({"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.05, "initial_accumulator_value": 0.1,
             "eps": 1e-6}, ({}, {"lr": 0.05})),
    "maximize": ({"lr": 0.1}, ({}, {"maximize": True, "lr": 0.01})),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case: str, dtype: type) -> None:
    pytest.importorskip("torch")
    defaults, groups = CASES[case]
    got = chainrule_run("Adagrad", defaults, groups, dtype, 30)
    want = torch_run("Adagrad", defaults, groups, dtype, 30)
    assert_same_trajectory(got, want, dtype)


def test_first_step_moves_each_element_by_lr() -> None:
    p = Parameter(np.zeros(3, dtype=np.float32))
    p.grad = Parameter(np.array([1e-3, -2.0, 5e3], dtype=np.float32))
    optim.Adagrad([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.cpu().numpy(), [-0.1, 0.1, -0.1], rtol=1e-6)


def test_a_groups_initial_accumulator_value_is_honoured() -> None:
    # PyTorch ignores it (it fills every group's sum from the constructor's value); we do not.
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    a.grad, b.grad = Parameter(np.ones(1)), Parameter(np.ones(1))
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}],
                        lr=1.0, eps=0.0)
    opt.step()
    np.testing.assert_allclose(to_numpy(opt.state[b]["sum"]), [4.0])
    np.testing.assert_allclose([a.cpu().numpy()[0], b.cpu().numpy()[0]], [-1.0, -0.5])
