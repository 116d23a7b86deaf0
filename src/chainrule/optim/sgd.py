"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's)."""

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


class SGD(Optimizer):
    """PyTorch's rule: v = momentum*v + (1-dampening)*g; p -= lr*v (nesterov: g + momentum*v).

    g includes weight_decay * p and is negated when maximizing; v starts as the first g.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        check_hyperparam("momentum", momentum, momentum >= 0.0)
        check_hyperparam("weight_decay", weight_decay, weight_decay >= 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize,
                                  **implementation_flags("SGD", foreach=foreach,
                                                         differentiable=differentiable,
                                                         fused=fused)})

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        g = self.grad_for_rule(p, g, h, h.weight_decay)
        tmp = self.scratch(p, 1)
        if h.momentum:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = np.empty_like(p)
                np.copyto(v, g)
            else:
                v *= h.momentum
                if h.dampening:
                    np.multiply(g, 1 - h.dampening, out=tmp)
                    v += tmp
                else:
                    v += g
            if h.nesterov:
                np.multiply(v, h.momentum, out=tmp)
                tmp += g
                g = tmp
            else:
                g = v
        np.multiply(g, h.lr, out=tmp)
        p -= tmp
