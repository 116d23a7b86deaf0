"""An LSTM written as the lectures write it: a loop over time whose four gates are slices of one
product z = x_t W + h U + b; MSE on a linear head of the last state, backward and SGD.

Unlike `lstm` (the fused nn.LSTM), every step here records eight ops and four slices per time
step, so it measures the engine: per-op overhead and slice cotangents.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from harness import Case, Step, Workload

SIZES = {"full": (35, 32, 32, 128), "quick": (8, 8, 8, 16)}  # seq_len, batch, input, hidden
LR = 1e-5  # the loss moves < 1e-3 over the warm-up calls, whose number differs per framework


def weights(n_in: int, hidden: int) -> dict[str, np.ndarray]:
    """W (n_in, 4H), U (H, 4H), b (4H,), V (H, 1): float32, fixed seed."""
    rng = np.random.default_rng(0)
    return {"W": (rng.standard_normal((n_in, 4 * hidden)) * 0.1).astype(np.float32),
            "U": (rng.standard_normal((hidden, 4 * hidden)) * 0.1).astype(np.float32),
            "b": np.zeros(4 * hidden, np.float32),
            "V": (rng.standard_normal((hidden, 1)) * 0.1).astype(np.float32)}


def inputs(seq: int, batch: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return (rng.standard_normal((seq, batch, n_in)).astype(np.float32),
            rng.standard_normal((batch, 1)).astype(np.float32))


def chainrule_step(seq: int, batch: int, n_in: int, hidden: int,
                   compiled: bool = False) -> Step:
    """chainrule, eager or under cr.compile: the cell loop on Tensors, backward, SGD."""
    import chainrule as cr

    p = {k: cr.tensor(v, requires_grad=True) for k, v in weights(n_in, hidden).items()}
    x0, y0 = inputs(seq, batch, n_in)
    xs, y = cr.tensor(x0), cr.tensor(y0)
    opt = cr.optim.SGD(list(p.values()), lr=LR)
    H = hidden

    def step(xs: cr.Tensor = xs, y: cr.Tensor = y) -> object:
        opt.zero_grad()
        h = cr.zeros((batch, H))
        c = cr.zeros((batch, H))
        for t in range(seq):
            z = xs[t] @ p["W"] + h @ p["U"] + p["b"]
            i, f = cr.sigmoid(z[:, :H]), cr.sigmoid(z[:, H:2 * H])
            g, o = cr.tanh(z[:, 2 * H:3 * H]), cr.sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * cr.tanh(c)
        loss = ((h @ p["V"] - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return partial(cr.compile(step), xs, y) if compiled else step


def torch_step(seq: int, batch: int, n_in: int, hidden: int) -> Step:
    """PyTorch eager, the same cell loop."""
    import torch

    p = {k: torch.tensor(v, requires_grad=True) for k, v in weights(n_in, hidden).items()}
    x0, y0 = inputs(seq, batch, n_in)
    xs, y = torch.from_numpy(x0), torch.from_numpy(y0)
    opt = torch.optim.SGD(list(p.values()), lr=LR)
    H = hidden

    def step() -> object:
        opt.zero_grad()
        h = torch.zeros((batch, H))
        c = torch.zeros((batch, H))
        for t in range(seq):
            z = xs[t] @ p["W"] + h @ p["U"] + p["b"]
            i, f = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H])
            g, o = torch.tanh(z[:, 2 * H:3 * H]), torch.sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
        loss = ((h @ p["V"] - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def numpy_lstm_mse(xs: np.ndarray, y: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray,
                   V: np.ndarray, v0: np.ndarray | float = 0.0
                   ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Hand-written NumPy LSTM (gates i, f, g, o: column blocks of z = x_t W + h U + b, zero
    initial state) under the loss mean((h_T V + v0 - y)^2): the loss and (dW, dU, db, dV, dv0)
    by backpropagation through time; the input products of all steps are one matmul each way."""
    seq, batch, n_in = xs.shape
    H = U.shape[0]
    zs = (xs.reshape(-1, n_in) @ W).reshape(seq, batch, 4 * H)
    zs += b
    h = np.zeros((batch, H), np.float32)
    c = np.zeros((batch, H), np.float32)
    cache = []
    for t in range(seq):
        z = zs[t] + h @ U
        i, f = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H])
        g, o = np.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])
        hp, cp = h, c
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        cache.append((hp, cp, i, f, g, o, tc))
    diff = h @ V + v0 - y
    loss = (diff**2).mean()
    d = 2 * diff / diff.size
    dV, dv0, dh = h.T @ d, d.sum(0), d @ V.T
    dc = np.zeros_like(c)
    dzs = zs  # the pre-activations are no longer needed: dz of step t overwrites z of step t
    UT = np.ascontiguousarray(U.T)  # faster products than through the transposed view
    for t in reversed(range(seq)):
        hp, cp, i, f, g, o, tc = cache[t]
        do = dh * tc
        dc = dc + dh * o * (1 - tc * tc)
        di, dg, df, dc = dc * g, dc * i, dc * cp, dc * f
        dz = dzs[t]
        dz[:, :H] = di * i * (1 - i)
        dz[:, H:2 * H] = df * f * (1 - f)
        dz[:, 2 * H:3 * H] = dg * (1 - g * g)
        dz[:, 3 * H:] = do * o * (1 - o)
        dh = dz @ UT
    dz2 = dzs.reshape(-1, 4 * H)
    hps = np.stack([entry[0] for entry in cache]).reshape(-1, H)
    return loss, (xs.reshape(-1, n_in).T @ dz2, hps.T @ dz2, dz2.sum(0), dV, dv0)


def numpy_step(seq: int, batch: int, n_in: int, hidden: int) -> Step:
    """Hand-written NumPy: the forward keeps its cache, the backward is written out (BPTT)."""
    w = {k: v.copy() for k, v in weights(n_in, hidden).items()}
    xs, y = inputs(seq, batch, n_in)

    def step() -> object:
        loss, grads = numpy_lstm_mse(xs, y, w["W"], w["U"], w["b"], w["V"])
        for k, grad in zip("WUbV", grads):  # no head bias here: dv0 is left out
            w[k] -= LR * grad
        return loss

    return step


def cases(quick: bool) -> list[Case]:
    """One training step per call."""
    seq, batch, n_in, hidden = SIZES["quick" if quick else "full"]
    builders = {name: partial(fn, seq, batch, n_in, hidden)
                for name, fn in (("chainrule", chainrule_step), ("torch", torch_step),
                                 ("numpy", numpy_step))}
    builders["compiled"] = partial(chainrule_step, seq, batch, n_in, hidden, compiled=True)
    note = (f"cell loop: LSTM({n_in}, {hidden}) over {seq} steps, batch {batch}, gates as four "
            "slices of one product, MSE, backward, SGD; float32")
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("lstm_cell", "an LSTM cell loop as the lectures write it (slices of one "
                    "product)", cases)
