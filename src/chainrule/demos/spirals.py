"""Two spirals: an MLP's decision boundary as training proceeds (representation-learning lecture).

No line separates two interleaved spirals; a 2-64-64-1 tanh MLP trained with Adam bends its
boundary turn by turn: at first a near-linear cut (about chance), then the inner turns, then all
of them. The boundary p = 1/2 is drawn at several points of one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.demos._plot import figure, save

SNAPSHOTS = (0, 25, 50, 75, 100, 300)


def prob(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's probability of class 1 at each row of x."""
    with cr.no_grad():
        return cr.sigmoid(model(cr.tensor(x.astype(np.float32)))).numpy(force=True)[:, 0]


def run(out: Path) -> dict[str, Any]:
    """Train on 400 spiral points, recording accuracy and the boundary; returns the accuracies."""
    train, test = (cr.datasets.two_spirals(n=400, noise=0.02, seed=s) for s in (0, 1))
    x, y = (t.numpy(force=True) for t in train.tensors)
    xt_, yt_ = (t.numpy(force=True) for t in test.tensors)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 1))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = cr.tensor(x), cr.tensor(y[:, None].astype(np.float32))
    g = np.linspace(-1.15, 1.15, 116)
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    maps, acc, test_acc, losses = {}, {}, {}, []
    for step in range(SNAPSHOTS[-1] + 1):
        loss = loss_fn(model(xt), yt)
        losses.append(loss.item())
        if step in SNAPSHOTS:
            maps[step] = prob(model, grid).reshape(gx.shape)
            acc[step] = float(((prob(model, x) > 0.5) == (y > 0.5)).mean())
            test_acc[step] = float(((prob(model, xt_) > 0.5) == (yt_ > 0.5)).mean())
            print(f"step {step:5d}: loss {losses[-1]:.4f}, "
                  f"train accuracy {acc[step]:.3f}, unseen spiral points {test_acc[step]:.3f}")
        if step == SNAPSHOTS[-1]:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()

    linear = nn.Linear(2, 1)
    opt = cr.optim.Adam(linear.parameters(), lr=0.01)
    for _ in range(SNAPSHOTS[-1]):
        opt.zero_grad()
        loss_fn(linear(xt), yt).backward()
        opt.step()
    linear_acc = float(((prob(linear, x) > 0.5) == (y > 0.5)).mean())
    print(f"a linear model (logistic regression, same {SNAPSHOTS[-1]} steps): train accuracy "
          f"{linear_acc:.3f}")

    fig, axes = figure(3, 2, size=(3.8, 3.6), title="Two spirals: no line separates them "
                       f"(logistic regression: {linear_acc:.2f});\nan "
                       "MLP's hidden layers bend the boundary turn by turn as training proceeds "
                       f"(accuracy {acc[SNAPSHOTS[0]]:.2f} → {acc[SNAPSHOTS[-1]]:.2f})")
    for ax, step in zip(axes, SNAPSHOTS):
        ax.contourf(gx, gy, maps[step], levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
        if maps[step].min() < 0.5 < maps[step].max():
            ax.contour(gx, gy, maps[step], levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(*x.T, c=y, cmap="RdBu_r", s=6, edgecolors="k", linewidths=0.2)
        ax.set(xlabel="x1", ylabel="x2", aspect="equal",
               title=f"step {step}: accuracy {acc[step]:.2f}")
    return {"accuracy": acc, "test_accuracy": test_acc, "losses": losses, "linear": linear_acc,
            "figures": [save(fig, out, "spirals.png")]}
