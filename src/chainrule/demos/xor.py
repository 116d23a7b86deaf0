"""XOR: no linear model separates it; one hidden layer does (representation-learning lecture).

2-D: the four corners (+-1, +-1), class 1 where x1*x2 > 0. Logistic regression can do no better
than chance there (its best fit is w = 0, p = 1/2 everywhere); a 2-4-1 tanh net fits all four.
1-D: class 1 on |x| < 1, the lecture's analogue, needs two kinks: a 1-8-1 ReLU net.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.demos._plot import figure, save

CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]], dtype=np.float32)
LABELS = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)


def fit(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> float:
    """Full-batch Adam on the logistic loss; returns the final loss."""
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = cr.tensor(x), cr.tensor(y[:, None])
    for _ in range(steps):
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def prob(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's probability of class 1 at each row of x."""
    with cr.no_grad():
        return cr.sigmoid(model(cr.tensor(x.astype(np.float32)))).numpy(force=True)[:, 0]


def run(out: Path) -> dict[str, Any]:
    """Fit linear and one-hidden-layer models to both XORs; returns losses and accuracies."""
    cr.manual_seed(0)
    models = {"linear": nn.Linear(2, 1),
              "hidden": nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))}
    res: dict[str, Any] = {}
    for name, model in models.items():
        loss = fit(model, CORNERS, LABELS, 500, 0.05)
        p = prob(model, CORNERS)
        acc = float(((p > 0.5) == (LABELS > 0.5)).mean())
        res[f"2d_{name}"] = {"loss": loss, "probabilities": p.tolist(), "accuracy": acc}
        print(f"2-D XOR, {name:6s} model: loss {loss:.4f} (chance log 2 = {np.log(2):.4f}), "
              f"p(class 1) at the corners {[round(float(v), 3) for v in p]}, accuracy {acc:.2f}")
    x1, y1 = (t.numpy(force=True) for t in cr.datasets.xor(n=256, seed=0, dim=1).tensors)
    y1 = y1.astype(np.float32)
    models1 = {"linear": nn.Linear(1, 1),
               "hidden": nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1))}
    for name, model in models1.items():
        loss = fit(model, x1, y1, 400, 0.05)
        acc = float(((prob(model, x1) > 0.5) == (y1 > 0.5)).mean())
        res[f"1d_{name}"] = {"loss": loss, "accuracy": acc, "majority": float(
            max(y1.mean(), 1 - y1.mean()))}
        print(f"1-D XOR, {name:6s} model: loss {loss:.4f}, accuracy {acc:.3f} (majority class "
              f"{res[f'1d_{name}']['majority']:.3f})")

    fig, axes = figure(3, size=(4.4, 4.0), title="XOR: a linear model stays at chance "
                       "(p = 1/2 on the four corners); one hidden layer separates both XORs")
    g = np.linspace(-1.6, 1.6, 161)
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    for ax, name in zip(axes[:2], ("linear", "hidden")):
        p = prob(models[name], grid).reshape(gx.shape)
        cs = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        if p.max() - p.min() > 0.05 and p.min() < 0.5 < p.max():
            ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=2)
        ax.scatter(*CORNERS.T, c=LABELS, cmap="RdBu_r", edgecolors="k", s=120, vmin=0, vmax=1)
        title = ("linear: p ≈ 1/2 everywhere" if name == "linear"
                 else "2-4-1 tanh: boundary p = 1/2")
        ax.set(xlabel="x1", ylabel="x2", title=f"2-D XOR, {title}", aspect="equal")
    fig.colorbar(cs, ax=axes[1], shrink=0.8).ax.set_title("p(1)", fontsize=8)
    ax = axes[2]
    xs = np.linspace(-2, 2, 401)[:, None]
    ax.scatter(x1[:, 0], y1, s=8, c=y1, cmap="RdBu_r", label="data (class 1 on |x| < 1)")
    for name, c in (("linear", "C2"), ("hidden", "k")):
        ax.plot(xs[:, 0], prob(models1[name], xs), color=c,
                label=f"{'linear' if name == 'linear' else '1-8-1 ReLU'}: acc "
                f"{res[f'1d_{name}']['accuracy']:.2f}")
    ax.axhline(0.5, color="0.5", ls=":", lw=1)
    ax.set(xlabel="x", ylabel="p(class 1)", title="1-D XOR", ylim=(-0.05, 1.15))
    ax.legend(fontsize=8, loc="upper right")
    res["figures"] = [save(fig, out, "xor.png")]
    return res
