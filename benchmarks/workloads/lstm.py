"""An LSTM training step: LSTM(32 -> 128) over 35 steps, batch 32, a linear head on the last
state, MSE, backward and SGD (chainrule's fused recurrence against PyTorch's nn.LSTM and a
hand-written NumPy backpropagation through time)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from harness import Case, Step, Workload

from workloads.lstm_cell import numpy_lstm_mse
from workloads.mlp import first_result

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


def weights(n_in: int, hidden: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The LSTM's and the head's initial state dicts as arrays: torch's when torch is
    installed, else chainrule's under cr.manual_seed(0)."""
    try:
        modules = torch_modules(n_in, hidden)
    except ImportError:
        import chainrule as cr
        import chainrule.nn as nn

        cr.manual_seed(0)
        modules = nn.LSTM(n_in, hidden), nn.Linear(hidden, 1)
    lstm, head = ({k: np.array(v, np.float32) for k, v in m.state_dict().items()}
                  for m in modules)
    return lstm, head


def numpy_step(seq: int, batch: int, n_in: int, hidden: int) -> Step:
    """Hand-written NumPy: lstm_cell's forward and backpropagation through time, with torch's
    weights transposed once (gates i, f, g, o) and the head's bias, then SGD."""
    lstm, head = weights(n_in, hidden)
    W, U = lstm["weight_ih_l0"].T.copy(), lstm["weight_hh_l0"].T.copy()
    b_ih, b_hh = lstm["bias_ih_l0"], lstm["bias_hh_l0"]
    V, v0 = head["weight"].T.copy(), head["bias"]
    x, y = inputs(seq, batch, n_in)

    def step() -> object:
        loss, (dW, dU, db, dV, dv0) = numpy_lstm_mse(x, y, W, U, b_ih + b_hh, V, v0)
        for p, grad in ((W, dW), (U, dU), (b_ih, db), (b_hh, db), (V, dV), (v0, dv0)):
            p -= 0.01 * grad
        return loss

    return step


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
    lstm_state, head_state = weights(n_in, hidden)
    lstm.load_state_dict(lstm_state)
    head.load_state_dict(head_state)
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


def compiled_step(seq: int, batch: int, n_in: int, hidden: int) -> Step:
    """chainrule under cr.compile (the name memory.py looks up)."""
    return chainrule_step(seq, batch, n_in, hidden, compiled=True)


def _first_loss(build: Callable[[], Step]) -> Step:
    """The built step, returning the first call's loss as a float every time (first_result)."""
    step = build()
    return first_result(lambda: step().item())


def cases(quick: bool) -> list[Case]:
    """One training step per call (the first step's loss is checked across frameworks)."""
    seq, batch, n_in, hidden = SIZES["quick" if quick else "full"]
    builders = {
        name: partial(_first_loss, partial(fn, seq, batch, n_in, hidden))
        for name, fn in (("chainrule", chainrule_step), ("compiled", compiled_step),
                         ("torch", torch_step), ("numpy", numpy_step))
    }
    note = (f"LSTM({n_in}, {hidden}) over {seq} steps, batch {batch}, Linear head on h_n, MSE, "
            "backward, SGD; float32")
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("lstm", "an LSTM training step (fused recurrence vs nn.LSTM)", cases)
