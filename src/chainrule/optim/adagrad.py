"""Adagrad (Duchi et al.) with learning-rate decay and weight decay, as PyTorch computes it."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Hyperparams,
    Optimizer,
    ParamsT,
    check_hyperparam,
    implementation_flags,
)


class Adagrad(Optimizer):
    """s += g²; p -= lr/(1+(t-1)*lr_decay) * g / (√s + eps); s starts at initial_accumulator_value.

    g includes weight_decay * p and is negated when maximizing. Unlike PyTorch, which fills s from
    the constructor's initial_accumulator_value for every group, a group's own value is honoured.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        check_hyperparam("lr_decay", lr_decay, lr_decay >= 0.0)
        check_hyperparam("weight_decay", weight_decay, weight_decay >= 0.0)
        check_hyperparam("initial_accumulator_value", initial_accumulator_value,
                         initial_accumulator_value >= 0.0)
        check_hyperparam("epsilon", eps, eps >= 0.0)
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "maximize": maximize,
                                  **implementation_flags("Adagrad", foreach=foreach,
                                                         differentiable=differentiable,
                                                         fused=fused)})

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        if not state:  # PyTorch fills this at construction; here at the first step
            state["step"] = 0.0
            state["sum"] = self.zeros_state(p, h.initial_accumulator_value)
        step = state["step"] = state["step"] + 1
        g = self.grad_for_rule(p, g, h, h.weight_decay)
        clr = h.lr / (1 + (step - 1) * h.lr_decay)
        total, std = state["sum"], self.scratch(p, 1)
        np.multiply(g, g, out=std)
        total += std
        np.sqrt(total, out=std)
        std += h.eps
        out = self.scratch(p, 0)  # may be g itself: each element is read before it is written
        np.multiply(g, -clr, out=out)
        out /= std
        p += out
