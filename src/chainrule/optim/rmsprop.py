"""RMSprop (Hinton) with momentum, centering and weight decay, as PyTorch computes it."""

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


class RMSprop(Optimizer):
    """s = alpha*s + (1-alpha)*g²; d = √s + eps (centered: √(s - ḡ²) + eps); p -= lr * g/d.

    With momentum: b = momentum*b + g/d; p -= lr*b. ḡ = alpha*ḡ + (1-alpha)*g.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        check_hyperparam("epsilon", eps, eps >= 0.0)
        check_hyperparam("momentum", momentum, momentum >= 0.0)
        check_hyperparam("weight_decay", weight_decay, weight_decay >= 0.0)
        check_hyperparam("alpha", alpha, alpha >= 0.0)
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered, "maximize": maximize,
                                  **implementation_flags("RMSprop", capturable=capturable,
                                                         foreach=foreach,
                                                         differentiable=differentiable)})

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        alpha = h.alpha
        if not state:
            state["step"] = 0.0
            state["square_avg"] = self.zeros_state(p)
            if h.momentum > 0:
                state["momentum_buffer"] = self.zeros_state(p)
            if h.centered:
                state["grad_avg"] = self.zeros_state(p)
        state["step"] += 1
        g = self.grad_for_rule(p, g, h, h.weight_decay)
        sq, avg = state["square_avg"], self.scratch(p, 1)
        sq *= alpha
        np.multiply(g, 1 - alpha, out=avg)
        avg *= g
        sq += avg
        if h.centered:
            ga = state["grad_avg"]  # ga.lerp_(g, 1-alpha), then √(s - ga²)
            np.subtract(g, ga, out=avg)
            avg *= 1 - alpha
            ga += avg
            np.multiply(ga, ga, out=avg)
            np.subtract(sq, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(sq, out=avg)
        avg += h.eps
        if h.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= h.momentum
            np.divide(g, avg, out=avg)
            buf += avg
            np.multiply(buf, h.lr, out=avg)
            p -= avg
        else:
            out = self.scratch(p, 0)  # may be g itself: each element is read before it is written
            np.multiply(g, -h.lr, out=out)
            out /= avg
            p += out
