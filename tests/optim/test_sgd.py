"""SGD: trajectories equal PyTorch's for every option, in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from reference import to_numpy

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import assert_same_trajectory, chainrule_run, torch_run

CASES = {
    "plain": ({"lr": 0.05}, ({}, {"lr": 0.02})),
    "momentum": ({"lr": 0.05, "momentum": 0.9}, ({}, {"momentum": 0.5, "lr": 0.03})),
    "dampening": ({"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, ({}, {"dampening": 0.0})),
    "nesterov": ({"lr": 0.05, "momentum": 0.9, "nesterov": True}, ({}, {"momentum": 0.7})),
    "weight_decay": ({"lr": 0.05, "weight_decay": 0.1}, ({}, {"weight_decay": 0.0})),
    "all": ({"lr": 0.04, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True},
            ({}, {"lr": 0.01, "weight_decay": 0.2})),
    "maximize": ({"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1},
                 ({}, {"maximize": True, "lr": 0.01})),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case: str, dtype: type) -> None:
    pytest.importorskip("torch")
    defaults, groups = CASES[case]
    got = chainrule_run("SGD", defaults, groups, dtype, 30)
    want = torch_run("SGD", defaults, groups, dtype, 30)
    assert_same_trajectory(got, want, dtype)


def test_state_is_the_momentum_buffer_in_the_parameters_layout() -> None:
    p = Parameter(np.asfortranarray(np.ones((3, 2), dtype=np.float32)))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Parameter(np.full((3, 2), 2.0, dtype=np.float32))
    opt.step()
    (buf,) = opt.state[p].values()
    assert buf.dtype == np.float32
    assert buf.flags.f_contiguous
    np.testing.assert_array_equal(to_numpy(buf), 2.0)
    np.testing.assert_allclose(p.cpu().numpy(), 0.8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lr": -1.0}, "learning rate"), ({"lr": 0.1, "momentum": -0.5}, "momentum"),
     ({"lr": 0.1, "nesterov": True}, "Nesterov"),
     ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov")],
)
def test_invalid_hyperparameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        optim.SGD([Parameter(np.zeros(2))], **kwargs)
