"""RMSprop: trajectories equal PyTorch's for every option, in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import assert_same_trajectory, chainrule_run, torch_run

CASES = {
    "plain": ({"lr": 0.01}, ({}, {"lr": 0.005, "alpha": 0.9})),
    "momentum": ({"lr": 0.01, "momentum": 0.9}, ({}, {"momentum": 0.0})),
    "centered": ({"lr": 0.01, "centered": True}, ({}, {"eps": 1e-4})),
    "centered_momentum": ({"lr": 0.01, "centered": True, "momentum": 0.5},
                          ({}, {"centered": False})),
    "weight_decay": ({"lr": 0.01, "weight_decay": 0.1}, ({}, {"weight_decay": 0.0})),
    "all": ({"lr": 0.005, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.05, "momentum": 0.8,
             "centered": True}, ({}, {"lr": 0.02, "momentum": 0.3})),
    "maximize": ({"lr": 0.01, "momentum": 0.5}, ({}, {"maximize": True, "lr": 0.002})),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case: str, dtype: type) -> None:
    pytest.importorskip("torch")
    defaults, groups = CASES[case]
    got = chainrule_run("RMSprop", defaults, groups, dtype, 30)
    want = torch_run("RMSprop", defaults, groups, dtype, 30)
    assert_same_trajectory(got, want, dtype)


def test_state_names_follow_the_options() -> None:
    p = Parameter(np.ones(2))
    p.grad = Parameter(np.ones(2))
    opt = optim.RMSprop([p], centered=True, momentum=0.9)
    opt.step()
    assert set(opt.state[p]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    assert opt.state[p]["step"] == 1
