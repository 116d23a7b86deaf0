"""Gradient descent and its stochastic variants on the same problem (Kolter's lecture).

GD takes one step per pass over the data (theta -= alpha * the mean gradient), SGD one per
sample, minibatch SGD one per batch of 16 ("in practice, a small collection of samples");
momentum (at minibatch SGD's learning rate) and Adam reuse past gradients. The problem is least
squares on 512 samples with 20 badly scaled features (curvature from 0.01 to 10), so its optimum
is known exactly and the plotted loss is the excess over it. Every method gets 25 passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.demos._plot import figure, save

N, D, EPOCHS, BATCH = 512, 20, 25, 16

# name: (batch size, optimizer class, keyword arguments)
METHODS: dict[str, tuple[int, Any, dict[str, float]]] = {
    "GD (full batch)": (N, cr.optim.SGD, {"lr": 0.15}),  # stable up to 2 / 10
    "SGD (batch 1)": (1, cr.optim.SGD, {"lr": 0.005}),
    f"minibatch SGD ({BATCH})": (BATCH, cr.optim.SGD, {"lr": 0.01}),
    f"momentum 0.9 ({BATCH})": (BATCH, cr.optim.SGD, {"lr": 0.01, "momentum": 0.9}),
    f"Adam ({BATCH})": (BATCH, cr.optim.Adam, {"lr": 0.05}),
}


def problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features with scales from 0.1 to 3 and a noisy linear target."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)) * np.geomspace(0.1, 3.0, D)
    y = x @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)
    return x, y


def loss(w: cr.Tensor, x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    """Half the mean squared residual, 1/(2n) ||X w - y||^2."""
    return ((x @ w - y) ** 2).mean() / 2


def train(batch: int, opt_cls: Any, kwargs: dict[str, float], x: np.ndarray, y: np.ndarray,
          seed: int = 0) -> tuple[np.ndarray, int]:
    """Full-data loss after every pass (and at the start); returns it and the number of steps."""
    rng = np.random.default_rng(seed)
    w = cr.zeros(D, dtype=np.float64, requires_grad=True)
    opt = opt_cls([w], **kwargs)
    xt, yt = cr.tensor(x), cr.tensor(y)
    with cr.no_grad():
        curve = [loss(w, xt, yt).item()]
    steps = 0
    for _ in range(EPOCHS):
        order = rng.permutation(N)
        for i in range(0, N, batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss(w, cr.tensor(x[idx]), cr.tensor(y[idx])).backward()
            opt.step()
            steps += 1
        with cr.no_grad():
            curve.append(loss(w, xt, yt).item())
    return np.asarray(curve), steps


def run(out: Path) -> dict[str, Any]:
    """Excess loss per pass for each method; returns the curves and step counts."""
    x, y = problem()
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    best = float(np.mean((x @ w_star - y) ** 2) / 2)
    eig = np.linalg.eigvalsh(x.T @ x / N)
    print(f"least squares, {N} samples, {D} features: optimum loss {best:.5f}, curvature "
          f"from {eig[0]:.3g} to {eig[-1]:.3g} (GD is stable for lr < 2/{eig[-1]:.3g})")
    res: dict[str, Any] = {"optimum": best, "excess": {}, "steps": {}}
    for name, (batch, opt_cls, kwargs) in METHODS.items():
        curve, steps = train(batch, opt_cls, kwargs, x, y)
        res["excess"][name] = (curve - best).tolist()
        res["steps"][name] = steps
        print(f"{name:22s} {kwargs}: {steps:5d} steps; excess loss after 1, 5, {EPOCHS} passes "
              f"{curve[1] - best:.2e}, {curve[5] - best:.2e}, {curve[-1] - best:.2e}")

    fig, axes = figure(2, size=(5.2, 4.2), title="Same problem, same passes over the data: "
                       "stochastic steps make far more progress per pass than full-batch GD;\n"
                       "at the same learning rate momentum goes further on the flat directions, "
                       "Adam's per-coordinate steps further still")
    for ax, xscale in zip(axes, ("passes", "steps")):
        for name, ex in res["excess"].items():
            steps_per = res["steps"][name] / EPOCHS
            t = np.arange(EPOCHS + 1) * (1 if xscale == "passes" else steps_per)
            first = 0 if xscale == "passes" else 1  # no step 0 on a log axis
            ax.semilogy(t[first:], ex[first:], "o-" if name.startswith("GD") else "-", ms=3,
                        label=name)
        ax.set(xlabel="passes over the data (epochs)" if xscale == "passes"
               else "parameter updates", ylabel="loss - optimum",
               title=f"excess loss after each pass, against {xscale}")
        if xscale == "steps":
            ax.set_xscale("log")
        ax.legend(fontsize=8)
    res["figures"] = [save(fig, out, "optimizers.png")]
    return res
