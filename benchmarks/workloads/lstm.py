"""An LSTM training step: LSTM(32 -> 128) over 35 steps, batch 32, a linear head on the last
state, MSE, backward and SGD (chainrule's fused recurrence against PyTorch's nn.LSTM)."""

from __future__ import annotations

from functools import partial

import numpy as np
from harness import Case, Step, Workload

SIZES = {"full": (35, 32, 32, 128), "quick": (10, 8, 8, 32)}  # seq_len, batch, input, hidden


def inputs(seq: int, batch: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """The sequence x (seq, batch, n_in) and the targets y (batch, 1), float32, fixed seed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((seq, batch, n_in)).astype(np.float32)
    y = rng.standard_normal((batch, 1)).astype(np.float32)
    return x, y


def torch_modules(n_in: int, hidden: int) -> tuple[object, object]:
    """torch's LSTM and head, seeded; chainrule's copies load their weights."""
    import torch

    torch.manual_seed(0)
    return torch.nn.LSTM(n_in, hidden), torch.nn.Linear(hidden, 1)


def torch_step(seq: int, batch: int, n_in: int, hidden: int) -> Step:
    """PyTorch eager: nn.LSTM, nn.Linear, mse_loss, SGD."""
    import torch

    lstm, head = torch_modules(n_in, hidden)
    opt = torch.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.01)
    x0, y0 = inputs(seq, batch, n_in)
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)

    def step() -> object:
        opt.zero_grad()
        _, (h, _) = lstm(x)
        loss = torch.nn.functional.mse_loss(head(h[-1]), y)
        loss.backward()
        opt.step()
        return loss

    return step


def chainrule_step(seq: int, batch: int, n_in: int, hidden: int, compiled: bool = False) -> Step:
    """chainrule eager (or under cr.compile): the same code, with torch's initial weights when
    torch is installed."""
    import chainrule as cr
    import chainrule.nn as nn

    cr.manual_seed(0)
    lstm, head = nn.LSTM(n_in, hidden), nn.Linear(hidden, 1)
    try:
        tl, th = torch_modules(n_in, hidden)
        lstm.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
        head.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    except ImportError:
        pass
    opt = cr.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.01)
    x0, y0 = inputs(seq, batch, n_in)
    x, y = cr.tensor(x0), cr.tensor(y0)

    def step(x: cr.Tensor = x, y: cr.Tensor = y) -> object:
        opt.zero_grad()
        _, (h, _) = lstm(x)
        loss = nn.functional.mse_loss(head(h[-1]), y)
        loss.backward()
        opt.step()
        return loss

    return partial(cr.compile(step), x, y) if compiled else step


def cases(quick: bool) -> list[Case]:
    """One training step per call."""
    seq, batch, n_in, hidden = SIZES["quick" if quick else "full"]
    builders = {
        name: partial(fn, seq, batch, n_in, hidden)
        for name, fn in (("chainrule", chainrule_step), ("torch", torch_step))
    }
    builders["compiled"] = partial(chainrule_step, seq, batch, n_in, hidden, compiled=True)
    note = (f"LSTM({n_in}, {hidden}) over {seq} steps, batch {batch}, Linear head on h_n, MSE, "
            "backward, SGD; float32")
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("lstm", "an LSTM training step (fused recurrence vs nn.LSTM)", cases)
