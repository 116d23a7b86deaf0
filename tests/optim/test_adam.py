"""Adam and AdamW: trajectories equal PyTorch's for every option, in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import assert_same_trajectory, chainrule_run, torch_run

ADAM = {
    "plain": ({"lr": 0.05}, ({}, {"lr": 0.02, "betas": (0.8, 0.99)})),
    "amsgrad": ({"lr": 0.05, "amsgrad": True}, ({}, {"eps": 1e-3})),
    "weight_decay": ({"lr": 0.05, "weight_decay": 0.1}, ({}, {"weight_decay": 0.0})),
    "decoupled": ({"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
                  ({}, {"weight_decay": 0.3})),
    "all": ({"lr": 0.03, "betas": (0.7, 0.9), "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True},
            ({"amsgrad": False}, {"lr": 0.1})),
    "maximize": ({"lr": 0.05, "weight_decay": 0.1}, ({}, {"maximize": True, "lr": 0.01})),
}
ADAMW = {
    "default_decay": ({"lr": 0.05}, ({}, {"lr": 0.02})),
    "amsgrad": ({"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}, ({}, {"weight_decay": 0.0})),
    "all": ({"lr": 0.03, "betas": (0.7, 0.9), "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True},
            ({"amsgrad": False}, {"lr": 0.1, "maximize": True})),
}
CASES = [("Adam", c) for c in ADAM] + [("AdamW", c) for c in ADAMW]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "case"), CASES)
def test_matches_torch(cls: str, case: str, dtype: type) -> None:
    pytest.importorskip("torch")
    defaults, groups = (ADAM if cls == "Adam" else ADAMW)[case]
    got = chainrule_run(cls, defaults, groups, dtype, 30)
    want = torch_run(cls, defaults, groups, dtype, 30)
    assert_same_trajectory(got, want, dtype)


def test_first_step_moves_each_element_by_lr() -> None:
    # m̂ = g and v̂ = g² after one step, so p moves by lr * g / (|g| + eps).
    p = Parameter(np.zeros(3, dtype=np.float32))
    p.grad = Parameter(np.array([1e-3, -2.0, 5e3], dtype=np.float32))
    optim.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.cpu().numpy(), [-0.1, 0.1, -0.1], rtol=1e-6)


def test_adamw_groups_hold_decoupled_weight_decay() -> None:
    opt = optim.AdamW([Parameter(np.zeros(2))])
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert opt.param_groups[0]["weight_decay"] == 1e-2


@pytest.mark.parametrize("betas", [(1.0, 0.9), (0.9, -0.1)])
def test_invalid_betas_raise(betas: tuple) -> None:
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([Parameter(np.zeros(2))], betas=betas)
