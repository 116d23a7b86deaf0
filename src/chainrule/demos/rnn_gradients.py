"""Vanishing and exploding gradients through time, and gradient clipping (deep-learning lecture).

The eigenvalue argument: with W = Q Lambda Q^T, h_t = W h_{t-1} gives h_T = Q Lambda^T Q^T h_0, so
dh_T/dh_0 = W^T has norm rho^T: it vanishes for a spectral radius rho < 1, stays at 1 for rho = 1
and explodes for rho > 1. A tanh RNN (h_t = tanh(W h_{t-1} + U x_t)) multiplies in tanh' <= 1 at
each step, so its norm stays below rho^T. The Jacobians come from chainrule's forward mode.
Then an identity-initialised ReLU RNN (IRNN) learns the sum of 60 inputs with plain SGD: one
exploding step wrecks it without clipping; ``nn.utils.clip_grad_norm_(params, 1.0)`` trains it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.demos._plot import figure, save

HIDDEN, T_MAX = 32, 60
RADII = (0.9, 1.0, 1.1)
SEQ_LEN, STEPS = 60, 150


def recurrent_weight(rho: float, rng: np.random.Generator) -> np.ndarray:
    """A symmetric W = Q diag(lambda) Q^T with eigenvalues in [-rho, rho], the largest |.| rho."""
    q, _ = np.linalg.qr(rng.standard_normal((HIDDEN, HIDDEN)))
    lam = rng.uniform(-rho, rho, HIDDEN)
    lam[0] = rho
    return (q * lam) @ q.T


def jacobian_norms(w: np.ndarray, inputs: np.ndarray | None, h0: np.ndarray) -> np.ndarray:
    """||dh_t/dh_0||_2 for t = 1..T_MAX: linear recurrence if inputs is None, else tanh."""
    wt = cr.tensor(w.T)

    def states(h: cr.Tensor) -> cr.Tensor:
        hs = []
        for t in range(T_MAX):
            h = h @ wt if inputs is None else cr.tanh(h @ wt + cr.tensor(inputs[t]))
            hs.append(h)
        return cr.stack(hs)

    jac = cr.jacobian(states, mode="forward")(cr.tensor(h0)).numpy(force=True)  # (T, n, n)
    return np.linalg.norm(jac, ord=2, axis=(1, 2))


def train(max_norm: float | None, seed: int = 0) -> tuple[list[float], list[float]]:
    """SGD on the sum-of-inputs task with an IRNN; returns per-step losses and gradient norms."""
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(1, HIDDEN, nonlinearity="relu")
    head = nn.Linear(HIDDEN, 1)
    nn.init.eye_(rnn.weight_hh_l0)
    nn.init.zeros_(rnn.bias_ih_l0)
    nn.init.zeros_(rnn.bias_hh_l0)
    params = [*rnn.parameters(), *head.parameters()]
    opt = cr.optim.SGD(params, lr=0.01)
    losses, norms = [], []
    for _ in range(STEPS):
        x = rng.uniform(-1, 1, (SEQ_LEN, 32, 1)).astype(np.float32)
        y = x.sum(axis=0) / np.float32(np.sqrt(SEQ_LEN))  # variance 1/3: the mean predictor's MSE
        _, h_n = rnn(cr.tensor(x))
        loss = F.mse_loss(head(h_n[0]), cr.tensor(y))
        opt.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is the point here
            loss.backward()
            norm = nn.utils.clip_grad_norm_(params, np.inf if max_norm is None else max_norm)
        losses.append(loss.item())
        norms.append(norm.item())
        if not np.isfinite(losses[-1]):
            break
        opt.step()
    return losses, norms


def run(out: Path) -> dict[str, Any]:
    """Jacobian norms against T for three radii, and the two training runs; returns them."""
    rng = np.random.default_rng(0)
    h0 = 0.01 * rng.standard_normal(HIDDEN)
    inputs = 0.01 * rng.standard_normal((T_MAX, HIDDEN))
    ts = np.arange(1, T_MAX + 1)
    linear, tanh, errors = {}, {}, {}
    for rho in RADII:
        w = recurrent_weight(rho, rng)
        linear[rho] = jacobian_norms(w, None, h0)
        tanh[rho] = jacobian_norms(w, inputs, h0)
        errors[rho] = float(np.abs(linear[rho] / rho ** ts - 1).max())
        print(f"rho = {rho}: ||dh_T/dh_0|| at T = 10, 30, 60: linear "
              f"{', '.join(f'{linear[rho][t - 1]:.3g}' for t in (10, 30, 60))} "
              f"(rho^T to {errors[rho]:.1e}); tanh "
              f"{', '.join(f'{tanh[rho][t - 1]:.3g}' for t in (10, 30, 60))}")
    runs = {}
    for name, max_norm in (("without clipping", None), ("clip_grad_norm_(1.0)", 1.0)):
        losses, norms = train(max_norm)
        runs[name] = {"losses": losses, "norms": norms, "final": float(np.mean(losses[-20:])),
                      "max_norm": float(np.nanmax(norms))}
        print(f"IRNN, sum of {SEQ_LEN} inputs, SGD {name}: largest gradient norm "
              f"{runs[name]['max_norm']:.3g}, loss over the last 20 steps "
              f"{runs[name]['final']:.4f} (mean predictor 1/3)")

    fig, axes = figure(3, size=(4.6, 4.0), title="Through time, dh_T/dh_0 = W^T has norm ρ^T: "
                       "it vanishes for ρ < 1 and explodes for ρ > 1;\nclipping the gradient "
                       "norm keeps an exploding step from wrecking training")
    for ax, norms, kind in ((axes[0], linear, "linear h_t = W h_(t-1)"),
                            (axes[1], tanh, "tanh RNN: saturation caps it")):
        for k, rho in enumerate(RADII):
            ax.semilogy(ts, norms[rho], color=f"C{k}", label=f"ρ(W) = {rho}")
            ax.semilogy(ts, rho ** ts.astype(float), ":", color=f"C{k}", lw=1)
        ax.set(xlabel="T (steps back)", ylabel="||dh_T / dh_0||₂", title=f"{kind} (dotted: ρ^T)")
        ax.legend(fontsize=8)
    ax = axes[2]
    for name, r in runs.items():
        losses = np.asarray(r["losses"])
        ax.semilogy(np.arange(len(losses)), losses, label=f"{name}: max |g| {r['max_norm']:.2g}")
    ax.axhline(1 / 3, color="0.5", ls=":", lw=1, label="mean predictor (1/3)")
    ax.set(xlabel="SGD step", ylabel="MSE loss", title=f"IRNN on the sum of {SEQ_LEN} inputs")
    ax.legend(fontsize=8)
    return {"linear": {r: v.tolist() for r, v in linear.items()},
            "tanh": {r: v.tolist() for r, v in tanh.items()}, "rho_power_error": errors,
            "runs": runs, "figures": [save(fig, out, "rnn_gradients.png")]}
