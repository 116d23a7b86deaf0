"""Learning-rate schedulers: lr sequences equal PyTorch's; state dicts resume them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule.nn.module import Parameter
from chainrule.optim import lr_scheduler

SCHEDULERS = {
    "step": ("StepLR", {"step_size": 3, "gamma": 0.5}),
    "step_one": ("StepLR", {"step_size": 1}),
    "exponential": ("ExponentialLR", {"gamma": 0.9}),
    "cosine": ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
    "cosine_no_min": ("CosineAnnealingLR", {"T_max": 7}),
}
LRS = (0.1, 0.03)


def _chainrule(case: str) -> tuple[optim.Optimizer, lr_scheduler.LRScheduler]:
    cls, kwargs = SCHEDULERS[case]
    groups = [{"params": [Parameter(np.zeros(2))], "lr": lr} for lr in LRS]
    opt = optim.SGD(groups, momentum=0.9)
    return opt, getattr(lr_scheduler, cls)(opt, **kwargs)


def _torch(case: str) -> tuple[Any, Any]:
    import torch

    cls, kwargs = SCHEDULERS[case]
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    opt = torch.optim.SGD(groups, momentum=0.9)
    sched = getattr(torch.optim.lr_scheduler, cls)(opt, **kwargs)
    opt.step()  # no gradients: changes nothing, but PyTorch warns when the scheduler steps first
    return opt, sched


@pytest.mark.parametrize("case", SCHEDULERS)
def test_sequence_equals_torchs(case: str) -> None:
    pytest.importorskip("torch")
    opt, sched = _chainrule(case)
    topt, tsched = _torch(case)
    assert sched.get_last_lr() == tsched.get_last_lr() == list(LRS)
    for epoch in range(1, 36):  # well past T_max, where the cosine rises again
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr(), f"epoch {epoch}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        assert sched.last_epoch == tsched.last_epoch == epoch
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)


@pytest.mark.parametrize("case", SCHEDULERS)
def test_step_with_an_epoch_uses_the_closed_form_as_torch(case: str) -> None:
    pytest.importorskip("torch")
    _, sched = _chainrule(case)
    _, tsched = _torch(case)
    for epoch in (4, 9, 2, 17):
        sched.step(epoch)
        with pytest.warns(UserWarning, match="epoch"):  # PyTorch deprecates the argument
            tsched.step(epoch)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-15)


def test_closed_and_recursive_forms_agree() -> None:
    _, sched = _chainrule("cosine")
    for epoch in range(1, 25):
        sched.step()
        recursive = sched.get_last_lr()
        np.testing.assert_allclose(recursive, sched._get_closed_form_lr(), rtol=1e-12)
        assert sched.last_epoch == epoch


@pytest.mark.parametrize("case", SCHEDULERS)
def test_state_dicts_resume_the_schedule(case: str) -> None:
    opt, sched = _chainrule(case)
    for _ in range(7):
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved_sched
    want = []
    for _ in range(10):
        sched.step()
        want.append(sched.get_last_lr())
    opt2, sched2 = _chainrule(case)  # PyTorch's order: scheduler built, then both loaded
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    got = []
    for _ in range(10):
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == want
    assert [g["lr"] for g in opt2.param_groups] == want[-1]


def test_the_optimizer_steps_with_the_scheduled_lr() -> None:
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = Parameter(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.cpu().numpy(), [-(1.0 + 0.5 + 0.25)])


def test_resuming_requires_initial_lr_and_an_optimizer() -> None:
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.ExponentialLR(object(), gamma=0.5)  # type: ignore[arg-type]
