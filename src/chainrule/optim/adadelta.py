"""Adadelta (Zeiler) with weight decay, as PyTorch computes it."""

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


class Adadelta(Optimizer):
    """s = rho*s + (1-rho)*g²; δ = √(a+eps)/√(s+eps) * g; a = rho*a + (1-rho)*δ²; p -= lr*δ.

    s is ``square_avg``, a is ``acc_delta``; g includes weight_decay * p and is negated when
    maximizing.
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        check_hyperparam("rho", rho, 0.0 <= rho <= 1.0)
        check_hyperparam("epsilon", eps, eps >= 0.0)
        check_hyperparam("weight_decay", weight_decay, weight_decay >= 0.0)
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize,
                                  **implementation_flags("Adadelta", capturable=capturable,
                                                         foreach=foreach,
                                                         differentiable=differentiable)})

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        rho = h.rho
        if not state:
            state["step"] = 0.0
            state["square_avg"] = self.zeros_state(p)
            state["acc_delta"] = self.zeros_state(p)
        state["step"] += 1
        g = self.grad_for_rule(p, g, h, h.weight_decay)
        sq, acc = state["square_avg"], state["acc_delta"]
        std, delta = self.scratch(p, 1), self.scratch(p, 2)
        # square_avg.mul_(rho).addcmul_(g, g, value=1-rho), in PyTorch's order
        sq *= rho
        np.multiply(g, 1 - rho, out=std)
        std *= g
        sq += std
        np.add(sq, h.eps, out=std)
        np.sqrt(std, out=std)
        np.add(acc, h.eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc *= rho
        np.multiply(delta, 1 - rho, out=std)
        std *= delta
        acc += std
        np.multiply(delta, -h.lr, out=delta)
        p += delta
