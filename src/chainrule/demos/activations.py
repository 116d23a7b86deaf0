"""Activations and their derivatives (by autodiff), and vanishing gradients in deep nets.

The modular-learning lecture: sigmoid' <= 1/4 and tanh' <= 1, so "in deep layers the chain rule
returns very small total gradient"; ReLU's derivative is 0 or 1. A 20-layer, 64-wide net with
each activation's usual initialisation (Xavier for sigmoid and tanh, He for ReLU) shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.demos._plot import figure, save

DEPTH, WIDTH = 20, 64

ACTIVATIONS = {
    "ReLU": cr.relu, "leaky ReLU (0.01)": lambda x: F.leaky_relu(x, 0.01),
    "softplus": cr.softplus, "sigmoid": cr.sigmoid, "tanh": cr.tanh,
}


def derivative(fn: Any, x: np.ndarray) -> np.ndarray:
    """fn'(x) elementwise: the gradient of sum(fn(x)), by reverse mode."""
    return cr.grad(lambda t: fn(t).sum())(cr.tensor(x)).numpy(force=True)


def layer_gradients(act: str, seed: int = 0) -> np.ndarray:
    """Norm of dL/dW_l for each layer l of a DEPTH-layer net with activation ``act``."""
    cr.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(DEPTH):
        lin = nn.Linear(WIDTH, WIDTH)
        if act == "relu":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        else:
            nn.init.xavier_normal_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[act]()]
    net = nn.Sequential(*layers)
    x = cr.randn(128, WIDTH)
    loss = (net(x) ** 2).mean()
    loss.backward()
    return np.array([float(np.linalg.norm(m.weight.grad.numpy(force=True))) for m in net
                     if isinstance(m, nn.Linear)])


def run(out: Path) -> dict[str, Any]:
    """Derivative facts and per-layer gradient norms; returns them."""
    xs = np.linspace(-5, 5, 1001)
    curves = {name: (fn(cr.tensor(xs)).numpy(force=True), derivative(fn, xs))
              for name, fn in ACTIVATIONS.items()}
    facts = {
        "max sigmoid'": float(curves["sigmoid"][1].max()),
        "max tanh'": float(curves["tanh"][1].max()),
        "relu' values": sorted({float(v) for v in curves["ReLU"][1]}),
        "softplus' - sigmoid": float(np.abs(curves["softplus"][1] - curves["sigmoid"][0]).max()),
        "tanh - (2 sigmoid(2x) - 1)": float(np.abs(
            curves["tanh"][0] - (2 * cr.sigmoid(cr.tensor(2 * xs)).numpy(force=True) - 1)).max()),
    }
    for k, v in facts.items():
        print(f"{k}: {v}")
    rng = np.random.default_rng(0)
    noisy = F.noisy_relu(cr.tensor(xs), 0.5, True, rng).numpy(force=True)

    norms = {act: layer_gradients(act) for act in ("sigmoid", "tanh", "relu")}
    ratios = {act: float(g[0] / g[-1]) for act, g in norms.items()}
    for act, g in norms.items():
        print(f"{act:7s}: |dL/dW| layer 1 {g[0]:.2e}, layer {DEPTH} {g[-1]:.2e}, ratio "
              f"{ratios[act]:.1e}")

    fig, axes = figure(3, size=(4.6, 4.0), title="Activations: sigmoid' ≤ 1/4 shrinks the gradient "
                       "layer by layer (vanishing gradients);\ntanh' ≤ 1 (=1 only at 0) and "
                       "ReLU' ∈ {0, 1} keep it with Xavier / He initialisation")
    ax = axes[0]
    for name, (y, _) in curves.items():
        ax.plot(xs, y, label=name)
    ax.plot(xs, noisy, ".", ms=1.5, color="0.5", label="noisy ReLU (σ = 0.5)")
    ax.set(xlabel="x", ylabel="a = h(x)", title="activations", ylim=(-1.5, 5))
    ax.legend(fontsize=8)
    ax = axes[1]
    for name, (_, dy) in curves.items():
        ax.plot(xs, dy, label=name)
    ax.axhline(0.25, color="0.5", ls=":", lw=1)
    ax.set(xlabel="x", ylabel="da/dx (reverse mode)", title="derivatives", ylim=(-0.1, 1.15))
    ax.legend(fontsize=8)
    ax = axes[2]
    for act, g in norms.items():
        ax.semilogy(np.arange(1, DEPTH + 1), g, "o-", ms=3, label=f"{act} (layer 1 / {DEPTH}: "
                    f"{ratios[act]:.0e})")
    ax.set(xlabel="layer", ylabel="|dL/dW_layer|", title=f"{DEPTH}-layer net, width {WIDTH}")
    ax.legend(fontsize=8)
    return {"facts": facts, "norms": {k: v.tolist() for k, v in norms.items()},
            "ratios": ratios, "figures": [save(fig, out, "activations.png")]}
