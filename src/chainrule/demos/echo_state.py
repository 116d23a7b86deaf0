"""Echo-state networks (deep-learning lecture, special architectures): fix the recurrent
weights, train only the readout, and choose the spectral radius "around some reasonably small
value".

- A 200-unit reservoir (nn.EchoState, radius 0.9, readout by ridge regression) predicts the
  Mackey-Glass series one step ahead on unseen data.
- The spectral radius effect, on recalling the input of 10 steps ago: too small a radius forgets
  within a few steps (no memory), too large a one loses the echo-state property (the state no
  longer forgets its start, so it is not a function of the input): two runs from different
  initial states converge for rho <= 1.1 and stay apart for rho = 1.6 and 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.demos._plot import figure, save

RADII = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.1, 1.3, 1.6, 2.0)
DELAY, UNITS = 10, 100


def mackey_glass(n: int, tau: int = 17, dt: float = 0.1) -> np.ndarray:
    """x' = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t) by Euler steps, sampled every 1."""
    sub, lag = round(1 / dt), round(tau / dt)
    hist = [1.2] * (lag + 1)
    out = []
    for k in range((n + 200) * sub):  # 200 time units of transient dropped
        x, xl = hist[-1], hist[-1 - lag]
        hist.append(x + dt * (0.2 * xl / (1 + xl ** 10) - 0.1 * x))
        if k % sub == 0:
            out.append(hist[-1])
        if len(hist) > 2 * lag + 2:
            del hist[:lag]
    return np.asarray(out[200:])


def nrmse(pred: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error over the target's standard deviation (1: no better than its mean)."""
    return float(np.sqrt(np.mean((pred - target) ** 2)) / target.std())


def predict(esn: nn.EchoState, u: np.ndarray) -> np.ndarray:
    """The readout over the whole input sequence u (T, 1), without a graph."""
    with cr.no_grad():
        return esn(cr.tensor(u)).numpy(force=True)


def run(out: Path) -> dict[str, Any]:
    """One-step prediction, delayed recall against radius, state forgetting; returns them."""
    series = mackey_glass(1500)
    u, y = series[:-1, None], series[1:, None]
    esn = nn.EchoState(1, 200, 1, spectral_radius=0.9, seed=0, dtype=np.float64)
    esn.fit_readout(u[:1000], y[:1000], ridge=1e-8, washout=100)
    pred = predict(esn, u)
    res: dict[str, Any] = {"prediction_nrmse": nrmse(pred[1000:], y[1000:])}
    print(f"Mackey-Glass one step ahead, 200 units, rho 0.9: test NRMSE "
          f"{res['prediction_nrmse']:.4f}")

    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (1200, 1))
    target = np.roll(x, DELAY, 0)
    h0 = rng.standard_normal(UNITS)
    recall, gaps = {}, {}
    for rho in RADII:
        r = nn.EchoState(1, UNITS, 1, spectral_radius=rho, seed=0, dtype=np.float64)
        r.fit_readout(x[:800], target[:800], washout=100)
        recall[rho] = nrmse(predict(r, x)[800:], target[800:])
        with cr.no_grad():
            a = r.states(cr.tensor(x[:300])).numpy(force=True)
            b = r.states(cr.tensor(x[:300]), h0=cr.tensor(h0)).numpy(force=True)
        gaps[rho] = np.linalg.norm(a - b, axis=1)
        print(f"rho {rho:3.1f}: recall u(t-{DELAY}) test NRMSE {recall[rho]:.3f}; two initial "
              f"states after 300 steps {gaps[rho][-1]:.1e} apart")
    res["recall_nrmse"] = recall
    res["state_gap"] = {rho: float(g[-1]) for rho, g in gaps.items()}

    fig, axes = figure(3, size=(4.6, 4.0), title="Echo-state network: a fixed random reservoir "
                       "and a trained readout predict well; the spectral radius must be "
                       "large enough to remember,\nsmall enough to forget the initial state "
                       "(echo-state property)")
    ax = axes[0]
    t = np.arange(1000, 1300)
    ax.plot(t, y[t, 0], "k", lw=2, label="target x(t+1)")
    ax.plot(t, pred[t, 0], "C1--", lw=1.5, label=f"reservoir (NRMSE {res['prediction_nrmse']:.3f})")
    ax.set(xlabel="t (unseen)", ylabel="Mackey-Glass x", title="one-step prediction, ρ = 0.9")
    ax.legend(fontsize=8, loc="lower left")
    ax = axes[1]
    ax.plot(RADII, [recall[r] for r in RADII], "o-")
    ax.axhline(1, color="0.5", ls=":", lw=1, label="no better than the mean")
    ax.set(xlabel="spectral radius ρ", ylabel="test NRMSE", ylim=(0, 1.15),
           title=f"recall the input of {DELAY} steps ago ({UNITS} units)")
    ax.legend(fontsize=8)
    ax = axes[2]
    for k, rho in enumerate((0.5, 0.9, 1.1, 1.3, 2.0)):
        ax.semilogy(np.maximum(gaps[rho], 1e-17), color=f"C{k}", label=f"ρ = {rho}")
    ax.set(xlabel="t", ylabel="||h_t - h'_t||", ylim=(1e-17, 1e2),
           title="same input, two initial states")
    ax.legend(fontsize=8)
    res["figures"] = [save(fig, out, "echo_state.png")]
    return res
