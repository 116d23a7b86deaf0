"""Optimizer state dicts: PyTorch's layout, snapshots, exact resumption, loading PyTorch's."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from reference import to_numpy

import chainrule.optim as optim
from chainrule.nn.module import Parameter

from .problem import (
    chainrule_params,
    chainrule_run,
    make_chainrule,
    run_steps,
    torch_run,
)

# One configuration per optimizer that fills every kind of state it has.
CONFIGS = {
    "SGD": ({"lr": 0.05, "momentum": 0.9, "nesterov": True}, ({}, {"lr": 0.02})),
    "Adam": ({"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}, ({}, {"betas": (0.8, 0.9)})),
    "AdamW": ({"lr": 0.05, "amsgrad": True}, ({}, {"weight_decay": 0.2})),
    "RMSprop": ({"lr": 0.01, "momentum": 0.5, "centered": True}, ({}, {"alpha": 0.9})),
    "Adagrad": ({"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, ({}, {})),
    "Adadelta": ({"lr": 0.5, "weight_decay": 0.01}, ({}, {"rho": 0.8})),
}
STATE_KEYS = {
    "SGD": {"momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "RMSprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
    "Adagrad": {"step", "sum"},
    "Adadelta": {"step", "square_avg", "acc_delta"},
}


def _run_and_save(cls: str, dtype: type, steps: int, save_at: int) -> tuple[list, dict]:
    saved = {}

    def hook(i: int, opt: optim.Optimizer) -> None:
        if i == save_at - 1:
            saved["sd"] = opt.state_dict()

    return chainrule_run(cls, *CONFIGS[cls], dtype, steps, hook), saved["sd"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls", CONFIGS)
def test_resuming_from_a_state_dict_continues_exactly(cls: str, dtype: type) -> None:
    trajectory, sd = _run_and_save(cls, dtype, 20, save_at=10)
    params = chainrule_params(trajectory[9])
    # Built with default hyperparameters: load_state_dict must restore the saved ones.
    opt = make_chainrule(cls, params, {}, ({}, {}))
    opt.load_state_dict(sd)
    resumed = list(run_steps(opt, params, 10))
    for got, want in zip(resumed, trajectory[10:], strict=True):
        for k in got:
            np.testing.assert_array_equal(to_numpy(got[k]), to_numpy(want[k]), err_msg=k)
            assert got[k].dtype == dtype


@pytest.mark.parametrize("cls", CONFIGS)
def test_layout_is_pytorchs_and_a_snapshot(cls: str) -> None:
    _, sd = _run_and_save(cls, np.float32, 12, save_at=10)
    _, at_10 = _run_and_save(cls, np.float32, 10, save_at=10)
    for i, state in at_10["state"].items():  # the two steps after the save changed nothing
        for k, v in state.items():
            np.testing.assert_array_equal(to_numpy(sd["state"][i][k]), to_numpy(v))
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2], [3, 4]]
    assert sorted(sd["state"]) == [0, 1, 2, 3, 4]
    defaults, groups = CONFIGS[cls]
    for g, over in zip(sd["param_groups"], groups, strict=True):
        for k, v in {**defaults, **over}.items():
            assert g[k] == v, k
    for state in sd["state"].values():
        assert set(state) == STATE_KEYS[cls]
        if "step" in state:
            assert state["step"] == 10
        for k, v in state.items():
            if k != "step":
                assert v.dtype == np.float32
    # the Fortran-ordered parameter's state keeps its layout
    assert all(v.flags.f_contiguous for k, v in sd["state"][2].items() if k != "step")


@pytest.mark.parametrize("cls", CONFIGS)
def test_state_matches_torchs(cls: str) -> None:
    pytest.importorskip("torch")
    got, want = {}, {}
    chainrule_run(cls, *CONFIGS[cls], np.float64, 8,
                  lambda i, opt: got.update(sd=opt.state_dict()))
    torch_run(cls, *CONFIGS[cls], np.float64, 8,
              lambda i, opt: want.update(sd=copy.deepcopy(opt.state_dict())))
    got, want = got["sd"], want["sd"]
    assert got["state"].keys() == want["state"].keys()
    for i, state in got["state"].items():
        assert state.keys() == want["state"][i].keys()
        for k, v in state.items():
            np.testing.assert_allclose(to_numpy(v), to_numpy(want["state"][i][k]), rtol=1e-10,
                                       atol=1e-13)
    for g, w in zip(got["param_groups"], want["param_groups"], strict=True):
        assert {k: v for k, v in g.items()} == {k: w[k] for k in g}


@pytest.mark.parametrize("cls", CONFIGS)
def test_loading_torchs_state_dict_continues_torchs_trajectory(cls: str) -> None:
    pytest.importorskip("torch")
    saved = {}

    def hook(i: int, opt: object) -> None:
        if i == 9:
            saved["sd"] = copy.deepcopy(opt.state_dict())

    want = torch_run(cls, *CONFIGS[cls], np.float64, 20, hook)
    params = chainrule_params(want[9])
    opt = make_chainrule(cls, params, {}, ({}, {}))
    opt.load_state_dict(saved["sd"])
    for got, w in zip(run_steps(opt, params, 10), want[10:], strict=True):
        for k in got:
            np.testing.assert_allclose(got[k], w[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_floating_state_takes_the_parameters_dtype() -> None:
    p = Parameter(np.ones(3, dtype=np.float32))
    p.grad = Parameter(np.ones(3, dtype=np.float32))
    opt = optim.Adam([p])
    sd = {"state": {"0": {"step": np.asarray(4.0), "exp_avg": np.ones(3),
                          "exp_avg_sq": np.ones(3)}},
          "param_groups": [{**opt.state_dict()["param_groups"][0], "lr": np.float64(0.5),
                            "betas": [0.5, 0.25]}]}
    opt.load_state_dict(sd)
    state = opt.state[p]
    assert state["step"] == 4.0
    assert isinstance(state["step"], float)
    assert state["exp_avg"].dtype == np.float32
    group = opt.param_groups[0]
    assert type(group["lr"]) is float
    assert group["betas"] == (0.5, 0.25)
    opt.step()
    assert p.cpu().numpy().dtype == np.float32
    assert state["exp_avg"].dtype == np.float32
    sd["state"]["0"]["exp_avg"][:] = 7  # loading copied the arrays
    assert not np.any(state["exp_avg"] == 7)


def test_mismatched_state_dicts_raise() -> None:
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    one_group = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(one_group)
    with pytest.raises(ValueError, match="group 0 holds 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(one_group)
    p = Parameter(np.zeros(2))
    p.grad = Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["momentum_buffer"] = np.zeros(5)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("cls", ["SGD", "Adam", "RMSprop"])
def test_state_dict_survives_save_and_load(cls: str, tmp_path: object) -> None:
    import chainrule as cr

    trajectory, sd = _run_and_save(cls, np.float32, 14, save_at=10)
    path = tmp_path / "opt.safetensors"  # type: ignore[operator]
    cr.save(sd, path)
    params = chainrule_params(trajectory[9])
    opt = make_chainrule(cls, params, {}, ({}, {}))
    opt.load_state_dict(cr.load(path))
    for got, want in zip(run_steps(opt, params, 4), trajectory[10:], strict=True):
        for k in got:
            np.testing.assert_array_equal(to_numpy(got[k]), to_numpy(want[k]), err_msg=k)
