"""Adam (Kingma & Ba) with AMSGrad and L2 or decoupled weight decay, as PyTorch computes it."""

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


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g²; p -= lr/(1-b1^t) * m / (√v/√(1-b2^t) + eps).

    amsgrad uses the running maximum of v; weight_decay adds wd*p to g, or with
    decoupled_weight_decay (AdamW) scales p by 1 - lr*wd first.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        check_hyperparam("epsilon", eps, eps >= 0.0)
        check_hyperparam("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0)
        check_hyperparam("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0)
        check_hyperparam("weight_decay", weight_decay, weight_decay >= 0.0)
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay,
                                  **implementation_flags(type(self).__name__, foreach=foreach,
                                                         capturable=capturable,
                                                         differentiable=differentiable,
                                                         fused=fused)})

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        beta1, beta2 = h.betas
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = self.zeros_state(p)
            state["exp_avg_sq"] = self.zeros_state(p)
            if h.amsgrad:
                state["max_exp_avg_sq"] = self.zeros_state(p)
        step = state["step"] = state["step"] + 1
        decoupled = h.weight_decay and h.decoupled_weight_decay
        if decoupled:
            p *= 1 - h.lr * h.weight_decay
        g = self.grad_for_rule(p, g, h, 0.0 if decoupled else h.weight_decay)
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], self.scratch(p, 1)
        # m.lerp_(g, 1-b1) and v.mul_(b2).addcmul_(g, g, value=1-b2), in PyTorch's order
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        v *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        if h.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = h.lr / (1 - beta1**step)
        denom = np.sqrt(v, out=tmp)
        denom /= (1 - beta2**step) ** 0.5
        denom += h.eps
        out = self.scratch(p, 0)  # g is no longer needed
        np.multiply(m, -step_size, out=out)
        out /= denom
        p += out
