"""A LeNet-5 training step: batch 64 of 1x28x28, float32, cross-entropy, backward, SGD."""

from __future__ import annotations

import numpy as np
from harness import Case, Step, Workload

from workloads.mlp import first_result

SIZES = {"full": 64, "quick": 8}


def inputs(batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (batch, 1, 28, 28) float32 and labels (batch,) int64, fixed seed."""
    rng = np.random.default_rng(0)
    return rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)


def torch_model() -> object:
    """torch's LeNet-5 (the same layers as chainrule.models.lenet5), seeded."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def torch_step(batch: int) -> Step:
    """PyTorch eager."""
    import torch

    model = torch_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x0, y0 = inputs(batch)
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def chainrule_step(batch: int, compiled: bool = False) -> Step:
    """chainrule eager (or under cr.compile): models.lenet5 with torch's initial weights when
    torch is installed."""
    import chainrule as cr
    import chainrule.nn as nn
    from chainrule import models

    cr.manual_seed(0)
    model = models.lenet5((1, 28, 28), 10)
    try:
        state = {k: v.detach().numpy() for k, v in torch_model().state_dict().items()}
        model.load_state_dict(state)
    except ImportError:
        pass
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    x0, y0 = inputs(batch)
    x, y = cr.tensor(x0), cr.tensor(y0)

    def train(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = cr.compile(train) if compiled else train

    def step() -> float:
        return float(run(x, y).item())  # outside the compiled function: .item() inside is eager

    return step


def cases(quick: bool) -> list[Case]:
    """One training step per call (no hand-written NumPy LeNet: chainrule vs PyTorch)."""
    batch = SIZES["quick" if quick else "full"]
    builders = {"chainrule": lambda: first_result(chainrule_step(batch)),
                "compiled": lambda: first_result(chainrule_step(batch, compiled=True)),
                "torch": lambda: first_result(torch_step(batch))}
    note = f"LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10), batch {batch}"
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("lenet", "a LeNet-5 training step (batch 64, 1x28x28)", cases)
