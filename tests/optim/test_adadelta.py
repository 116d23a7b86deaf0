"""Adadelta: trajectories equal PyTorch's for every option, state names, hyperparameter checks."""

from __future__ import annotations

import numpy as np
import pytest
from reference import to_numpy

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import assert_same_trajectory, chainrule_run, torch_run

CASES = {
    "default": ({}, ({}, {})),
    "groups": ({"lr": 0.5}, ({}, {"lr": 2.0, "rho": 0.5, "eps": 1e-4})),
    "weight_decay": ({"lr": 0.8, "weight_decay": 0.1}, ({}, {"weight_decay": 0.0})),
    "rho_bounds": ({"rho": 0.0}, ({}, {"rho": 1.0})),
    "maximize": ({"weight_decay": 0.05}, ({}, {"maximize": True, "lr": 0.3})),
    "all": ({"lr": 0.7, "rho": 0.95, "eps": 1e-5, "weight_decay": 0.02, "maximize": True},
            ({"maximize": False}, {"rho": 0.8})),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case: str, dtype: type) -> None:
    pytest.importorskip("torch")
    defaults, groups = CASES[case]
    got = chainrule_run("Adadelta", defaults, groups, dtype, 20)
    want = torch_run("Adadelta", defaults, groups, dtype, 20)
    assert_same_trajectory(got, want, dtype)


def test_first_step_follows_the_formula() -> None:
    # s = (1-rho) g²; δ = √eps / √(s + eps) * g; p = -lr δ; a = (1-rho) δ².
    g = np.array([0.5, -2.0, 3.0])
    p = Parameter(np.zeros(3))
    p.grad = Parameter(g.copy())
    opt = optim.Adadelta([p], lr=0.5, rho=0.9, eps=1e-6)
    opt.step()
    delta = np.sqrt(1e-6) / np.sqrt(0.1 * g**2 + 1e-6) * g
    np.testing.assert_allclose(p.cpu().numpy(), -0.5 * delta, rtol=1e-12)
    state = opt.state[p]
    assert set(state) == {"step", "square_avg", "acc_delta"}
    assert state["step"] == 1
    np.testing.assert_allclose(to_numpy(state["square_avg"]), 0.1 * g**2, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(state["acc_delta"]), 0.1 * delta**2, rtol=1e-12)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), g)  # the gradient is not written


BAD = [{"lr": -1.0}, {"rho": 1.5}, {"rho": -0.1}, {"eps": -1e-6}, {"weight_decay": -0.1}]


@pytest.mark.parametrize("kwargs", BAD, ids=str)
def test_bad_hyperparameters_raise_pytorchs_message(kwargs: dict) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="Invalid") as want:
        torch.optim.Adadelta([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match="Invalid") as got:
        optim.Adadelta([Parameter(np.zeros(2))], **kwargs)
    assert str(got.value) == str(want.value)

