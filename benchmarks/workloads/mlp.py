"""An MLP training step: 784-256-256-10 ReLU, batch 128, cross-entropy, backward, SGD."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Case, Step, Workload

SIZES = {"full": (128, (784, 256, 256, 10)), "quick": (16, (64, 32, 32, 10))}


def inputs(batch: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (batch, n_in) float32 and labels (batch,) int64, fixed seed."""
    rng = np.random.default_rng(0)
    return rng.random((batch, n_in), dtype=np.float32), rng.integers(0, 10, batch)


def weights(sizes: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (out, in), b) per layer, float32, fixed seed (shared by the three frameworks)."""
    rng = np.random.default_rng(1)
    return [((rng.standard_normal((o, i)) * np.sqrt(2 / i)).astype(np.float32),
             np.zeros(o, np.float32)) for i, o in itertools.pairwise(sizes)]


def numpy_step(batch: int, sizes: tuple[int, ...]) -> Step:
    """Hand-written NumPy: forward, the backprop equations, SGD, in place where it pays."""
    x, y = inputs(batch, sizes[0])
    params = weights(sizes)
    rows = np.arange(batch)

    def step() -> float:
        acts, pre = [x], []
        for i, (w, b) in enumerate(params):
            z = acts[-1] @ w.T
            z += b
            pre.append(z)
            acts.append(np.maximum(z, 0) if i < len(params) - 1 else z)
        loss, g = softmax_cross_entropy(acts[-1], y, rows)
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            dw = g.T @ acts[i]
            db = g.sum(axis=0)
            if i:
                g = g @ w
                g *= pre[i - 1] > 0
            w -= 0.01 * dw
            b -= 0.01 * db
        return loss

    return step


def torch_step(batch: int, sizes: tuple[int, ...]) -> Step:
    """PyTorch eager: nn.Sequential of Linear/ReLU, cross_entropy, SGD."""
    import torch

    layers: list[torch.nn.Module] = []
    for w, b in weights(sizes):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x0, y0 = inputs(batch, sizes[0])
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def chainrule_step(batch: int, sizes: tuple[int, ...]) -> Step:
    """chainrule eager: the same code as PyTorch's, but for the import."""
    import chainrule as cr
    import chainrule.nn as nn

    layers: list[nn.Module] = []
    for w, b in weights(sizes):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.load_state_dict({"weight": w, "bias": b})
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    x0, y0 = inputs(batch, sizes[0])
    x, y = cr.tensor(x0), cr.tensor(y0)

    def step() -> float:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def compiled_step(batch: int, sizes: tuple[int, ...]) -> Step:
    """chainrule under cr.compile: the same step, recorded on the first call, replayed after."""
    import chainrule as cr
    import chainrule.nn as nn

    layers: list[nn.Module] = []
    for w, b in weights(sizes):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.load_state_dict({"weight": w, "bias": b})
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    x0, y0 = inputs(batch, sizes[0])
    x, y = cr.tensor(x0), cr.tensor(y0)

    @cr.compile
    def train(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def step() -> float:
        return float(train(x, y).item())  # outside the compiled function: .item() inside is eager

    return step


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray, rows: np.ndarray
                          ) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits z (batch, classes) against labels y, and its gradient in z
    (rows: arange(batch)). z is overwritten."""
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
    g = e / s
    g[rows, y] -= 1
    g /= len(z)
    return loss, g


def first_result(step: Step) -> Step:
    """step, returning the first call's result every time (steps change the weights, and the
    harness warms frameworks up for different numbers of calls)."""
    first: list[float] = []

    def wrapped() -> float:
        value = step()
        if not first:
            first.append(value)
        return first[0]

    return wrapped


def cases(quick: bool) -> list[Case]:
    """One training step per call (the first step's loss is checked across frameworks)."""
    batch, sizes = SIZES["quick" if quick else "full"]
    builders = {name: (lambda fn=fn: first_result(fn(batch, sizes))) for name, fn in
                (("chainrule", chainrule_step), ("compiled", compiled_step),
                 ("torch", torch_step), ("numpy", numpy_step))}
    note = (f"{'-'.join(map(str, sizes))} ReLU MLP, batch {batch}, cross-entropy, backward, "
            "SGD; float32")
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("mlp", "an MLP training step (784-256-256-10, batch 128)", cases)
