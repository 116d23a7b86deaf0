"""Per-op overhead: a chain of ~2,000 tiny elementwise ops, `x = tanh(x * w + b)` on length 8."""

from __future__ import annotations

from functools import partial

import numpy as np
from harness import Case, Step, Workload

SIZE = 8
REPS = 667  # 3 ops per repetition + the final sum: 2,002 recorded ops


def inputs(size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The start vector x and the parameters w, b (float32, fixed seed)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size).astype(np.float32)
    w = rng.uniform(0.5, 1.0, size).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, size).astype(np.float32)
    return x, w, b


def numpy_step(reps: int, backward: bool) -> Step:
    """Hand-written NumPy: forward storing intermediates, then the backward pass by hand."""
    x0, w, b = inputs()

    def step() -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        xs = [x0]
        x = x0
        for _ in range(reps):
            x = np.tanh(x * w + b)
            xs.append(x)
        if not backward:
            return x
        g = np.ones_like(x)  # d sum(x) / dx
        gw = np.zeros_like(w)
        gb = np.zeros_like(b)
        for i in range(reps, 0, -1):
            y = xs[i]
            gz = g * (1 - y * y)
            gw += gz * xs[i - 1]
            gb += gz
            g = gz * w
        return gw, gb

    return step


def torch_step(reps: int, backward: bool) -> Step:
    """PyTorch eager, the same code as chainrule's."""
    import torch

    x0, w0, b0 = inputs()
    x = torch.from_numpy(x0)
    w = torch.from_numpy(w0).requires_grad_()
    b = torch.from_numpy(b0).requires_grad_()

    def step() -> object:
        w.grad = None
        b.grad = None
        y = x
        for _ in range(reps):
            y = torch.tanh(y * w + b)
        if not backward:
            return y
        y.sum().backward()
        return w.grad, b.grad

    return step


def chainrule_step(reps: int, backward: bool) -> Step:
    """chainrule eager: build the graph op by op, then `.backward()`."""
    import chainrule as cr

    x0, w0, b0 = inputs()
    x0t = cr.tensor(x0)
    w = cr.tensor(w0, requires_grad=True)
    b = cr.tensor(b0, requires_grad=True)

    def step(x: cr.Tensor = x0t) -> object:
        w.grad = None
        b.grad = None
        y = x
        for _ in range(reps):
            y = cr.tanh(y * w + b)
        if not backward:
            return y
        y.sum().backward()
        return w.grad, b.grad

    return step


def compiled_step(reps: int, backward: bool) -> Step:
    """chainrule under cr.compile: the eager step recorded once, its rule calls replayed after.
    The forward alone runs under no_grad: a replay returns no graph, and a step returning one
    stays eager (a backward outside could need it)."""
    import chainrule as cr

    x = cr.tensor(inputs()[0])
    step = chainrule_step(reps, backward)
    if not backward:
        eager = step

        def step(x: cr.Tensor) -> object:
            with cr.no_grad():
                return eager(x)

    return partial(cr.compile(step), x)


def cases(quick: bool) -> list[Case]:
    """Forward alone (graph recorded) and forward + backward, per step."""
    ops = 3 * REPS + 1
    out = []
    for backward, label in ((False, "forward"), (True, "forward+backward")):
        builders = {
            name: partial(fn, REPS, backward)
            for name, fn in (
                ("chainrule", chainrule_step),
                ("compiled", compiled_step),
                ("torch", torch_step),
                ("numpy", numpy_step),
            )
        }
        note = f"{REPS} x tanh(x*w + b) on float32[{SIZE}], {ops} ops" + (
            ", sum, backward to w and b" if backward else ", parameters require grad"
        )
        out.append(Case(label, builders, note=note))
    return out


WORKLOAD = Workload("overhead", "per-op overhead of tiny elementwise ops", cases)
