"""Exploding gradients in a recurrent network over 150 steps, and gradient-norm clipping.

A ReLU RNN with identity recurrent weights (Le, Jaitly and Hinton's IRNN) learns to output the
sum of 150 random inputs, so every input's gradient travels back through up to 150 steps. The
gradient with respect to W_hh sums over all steps and is large; one plain SGD step pushes W_hh's
spectral radius above one, after which the states and the gradients grow like rho^150: the loss
overflows to inf and NaN within a few steps. Rescaling the gradient to norm at most 1
(``nn.utils.clip_grad_norm_``) keeps every step small and the same run trains.
"""

import argparse

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

SEQ_LEN = 150


def batch(rng: np.random.Generator, seq_len: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x_t ~ U(-1, 1), shape (seq_len, size, 1); target sum_t x_t / sqrt(seq_len)."""
    x = rng.uniform(-1, 1, (seq_len, size, 1)).astype(np.float32)
    return x, x.sum(axis=0) / np.float32(np.sqrt(seq_len))


def train(max_norm: float | None, steps: int = 300, lr: float = 0.01, hidden: int = 32,
          seq_len: int = SEQ_LEN, seed: int = 0) -> tuple[list[float], list[float]]:
    """SGD on fresh batches, clipping the gradient norm when max_norm is given.

    Returns the loss and the (unclipped) gradient norm of every step; stops at a non-finite loss.
    """
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(1, hidden, nonlinearity="relu")
    head = nn.Linear(hidden, 1)
    nn.init.eye_(rnn.weight_hh_l0)  # IRNN: identity recurrence, zero biases
    nn.init.zeros_(rnn.bias_ih_l0)
    nn.init.zeros_(rnn.bias_hh_l0)
    params = [*rnn.parameters(), *head.parameters()]
    opt = cr.optim.SGD(params, lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        x, y = batch(rng, seq_len, 32)
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


def main(steps: int = 300, seed: int = 0) -> dict[str, tuple[list[float], list[float]]]:
    """Train without and with clipping; print both runs; return their losses and norms."""
    runs = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for name, max_norm in (("without clipping", None), ("with clip_grad_norm_(1.0)", 1.0)):
            losses, norms = train(max_norm, steps=steps, seed=seed)
            runs[name] = (losses, norms)
            print(f"{name}:")
            for k in range(0, len(losses), 50 if len(losses) > 10 else 1):
                print(f"  step {k:4d}  loss {losses[k]:.4g}  gradient norm {norms[k]:.4g}")
            first, last = np.mean(losses[:10]), np.mean(losses[-50:])
            if np.isfinite(losses[-1]):
                print(f"  trained: loss {first:.4f} -> {last:.4f} (the mean predictor: 0.3333); "
                      f"largest gradient norm {max(norms):.4g}")
            else:
                finite = [n for n in norms if np.isfinite(n)]
                print(f"  diverged: loss {losses[-1]} at step {len(losses) - 1}; gradient norms "
                      f"{finite[0]:.4g} at the start, {norms[-1]:.4g} at the end")
    return runs


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.steps, a.seed)
