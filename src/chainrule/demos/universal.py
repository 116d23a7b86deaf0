"""Universal approximation in 1-D, by construction (Kolter's lecture): f^(x) = sum_i +-max(0,
w_i x + b_i) passes exactly through chosen knots; its error falls as the knots get denser.

The construction is computed, not trained: the slope change at knot x_i is c_i, and
c_i relu(x - x_i) = sign(c_i) max(0, |c_i| x - |c_i| x_i). A trained 1-16-1 net is shown beside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.demos._plot import figure, save

LO, HI = -2.0, 2.0
UNITS = (2, 4, 8, 16, 32, 64)


def target(x: cr.Tensor) -> cr.Tensor:
    """The smooth function to approximate: sin(2x) + 0.3 x^2."""
    return cr.sin(2 * x) + 0.3 * x ** 2


def construct(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signs, w and b of d ReLU units interpolating target at d evenly spaced knots on [LO, HI].

    One unit holds the constant f(x_0) (w = 0), one per knot the change of slope there.
    """
    knots = np.linspace(LO, HI, d)
    fk = target(cr.tensor(knots)).numpy(force=True)
    slopes = np.diff(fk) / np.diff(knots)
    c = np.diff(np.concatenate([[0.0], slopes]))  # slope change at knots[0..d-2]
    sign = np.concatenate([[np.sign(fk[0]) or 1.0], np.sign(c)])
    w = np.concatenate([[0.0], np.abs(c)])
    b = np.concatenate([[abs(fk[0])], -np.abs(c) * knots[:-1]])
    return sign, w, b


def evaluate(sign: np.ndarray, w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_i sign_i max(0, w_i x + b_i), with chainrule ops; the pieces as rows."""
    pieces = cr.tensor(sign)[:, None] * cr.relu(cr.tensor(w)[:, None] * cr.tensor(x)[None]
                                                + cr.tensor(b)[:, None])
    return pieces.numpy(force=True)


def run(out: Path) -> dict[str, Any]:
    """Max error of the construction against units, and a trained net's; returns both."""
    xs = np.linspace(LO, HI, 2001)
    fx = target(cr.tensor(xs)).numpy(force=True)
    errors, knot_errors = [], []
    for d in UNITS:
        s, w, b = construct(d)
        errors.append(float(np.abs(evaluate(s, w, b, xs).sum(0) - fx).max()))
        knots = np.linspace(LO, HI, d)
        knot_errors.append(float(np.abs(evaluate(s, w, b, knots).sum(0)
                                        - target(cr.tensor(knots)).numpy(force=True)).max()))
        print(f"{d + 0:3d} ReLU units (knots {d}): max error {errors[-1]:.2e}, at the knots "
              f"{knot_errors[-1]:.1e}")
    rate = float(np.polyfit(np.log(UNITS[2:]), np.log(errors[2:]), 1)[0])
    print(f"error ~ units^{rate:.2f} (piecewise-linear interpolation of a smooth f: units^-2)")

    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = cr.optim.Adam(net.parameters(), lr=0.02)
    xt = cr.tensor(xs[::10, None].astype(np.float32))
    yt = cr.tensor(fx[::10, None].astype(np.float32))
    for _ in range(1500):
        loss = ((net(xt) - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with cr.no_grad():
        trained = net(cr.tensor(xs[:, None].astype(np.float32))).numpy(force=True)[:, 0]
    trained_err = float(np.abs(trained - fx).max())
    print(f"trained 1-16-1 ReLU net (Adam, 1500 steps): max error {trained_err:.2e}")

    fig, axes = figure(3, size=(4.6, 4.0), title="One hidden ReLU layer is a universal "
                       "approximator: Σ ±max(0, w_i x + b_i) through the knots,\nerror → 0 as "
                       "units grow (constructed, not trained)")
    d = 8
    s, w, b = construct(d)
    pieces = evaluate(s, w, b, xs)
    ax = axes[0]
    for k, p in enumerate(pieces):
        ax.plot(xs, p, "--", lw=0.9, label="±max(0, w_i x + b_i)" if k == 0 else None)
    ax.plot(xs, fx, "k", lw=2, label="f(x) = sin 2x + 0.3x²")
    ax.plot(xs, pieces.sum(0), "C3", lw=1.5, label=f"sum of {d} units")
    knots = np.linspace(LO, HI, d)
    ax.plot(knots, target(cr.tensor(knots)).numpy(force=True), "ko", ms=5, label="knots")
    ax.set(xlabel="x", ylabel="y", title=f"construction with {d} units", ylim=(-3, 3))
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    ax.loglog(UNITS, errors, "o-", label="constructed")
    ax.loglog(UNITS, errors[2] * (np.array(UNITS) / UNITS[2]) ** -2.0, "k:", label="∝ units⁻²")
    ax.axhline(trained_err, color="C1", ls="--", label="trained 1-16-1 net")
    ax.set(xlabel="hidden units", ylabel="max |f - f^| on [-2, 2]", title="error against units")
    ax.set_xticks(UNITS, [str(u) for u in UNITS])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(xs, fx, "k", lw=2, label="f")
    ax.plot(xs, trained, "C1", label=f"trained, max error {trained_err:.2f}")
    ax.set(xlabel="x", ylabel="y", title="a trained 1-16-1 ReLU net")
    ax.legend(fontsize=8)
    return {"units": list(UNITS), "errors": errors, "knot_errors": knot_errors, "rate": rate,
            "trained_error": trained_err, "figures": [save(fig, out, "universal.png")]}
