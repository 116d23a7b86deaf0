"""A one-hidden-layer ReLU network approximating a smooth 1-D function (sin on [-pi, pi]).

The fit is piecewise linear, one kink per hidden unit; the plot shows target and fit.
"""

import argparse

import numpy as np

import chainrule as cr
import chainrule.nn as nn


def main(hidden: int = 32, steps: int = 2000, plot: str | None = "fit_1d.png", seed: int = 0
         ) -> float:
    """Fit sin with `hidden` ReLUs by full-batch Adam on MSE; returns the final test MSE."""
    cr.manual_seed(seed)
    x, y = cr.datasets.function_1d("sin", n=200, seed=seed).tensors
    model = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    for step in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0:
            print(f"step {step:5d}  mse {loss.item():.5f}")
    grid = cr.tensor(np.linspace(-np.pi, np.pi, 400, dtype=np.float32)[:, None])
    with cr.no_grad():
        fit = model(grid).numpy()[:, 0]
    mse = float(np.mean((fit - np.sin(grid.numpy()[:, 0])) ** 2))
    print(f"mse on a fine grid: {mse:.5f}")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(grid.numpy()[:, 0], np.sin(grid.numpy()[:, 0]), label="sin x")
        ax.plot(grid.numpy()[:, 0], fit, "--", label=f"ReLU network, {hidden} hidden units")
        ax.scatter(x.numpy()[:, 0], y.numpy()[:, 0], s=4, c="gray", label="training points")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        print(f"plot written to {plot}")
    return mse


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--plot", default="fit_1d.png", help="PNG path ('' for none)")
    a = p.parse_args()
    main(a.hidden, a.steps, a.plot or None)
