"""Full Jacobian of tanh(W x) with respect to x, in forward and in reverse mode."""

from __future__ import annotations

from functools import partial

import numpy as np
from harness import Case, Step, Workload

SIZE = 512
QUICK_SIZE = 128


def inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed float32 matrix W (n, n), scaled to keep tanh out of saturation, and x (n,)."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    return w, x


def numpy_step(n: int) -> Step:
    """Analytic: J = diag(1 - tanh(Wx)^2) @ W, as a row scaling."""
    w, x = inputs(n)

    def step() -> np.ndarray:
        y = np.tanh(w @ x)
        return (1 - y * y)[:, None] * w

    return step


def torch_step(n: int, mode: str) -> Step:
    """torch.func.jacfwd or torch.func.jacrev of the same function."""
    import torch
    from torch.func import jacfwd, jacrev

    w0, x0 = inputs(n)
    w, x = torch.from_numpy(w0), torch.from_numpy(x0)

    def f(v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(w @ v)

    jac = (jacfwd if mode == "forward" else jacrev)(f)
    return partial(jac, x)


def chainrule_step(n: int, mode: str, compiled: bool = False) -> Step:
    """cr.jacobian(f, mode=...) of the same function (under cr.compile when compiled)."""
    import chainrule as cr

    w0, x0 = inputs(n)
    w, x = cr.tensor(w0), cr.tensor(x0)

    def f(v: cr.Tensor) -> cr.Tensor:
        return cr.tanh(w @ v)

    jac = cr.jacobian(f, mode=mode)
    return partial(cr.compile(jac) if compiled else jac, x)


def cases(quick: bool) -> list[Case]:
    """One case per AD mode; the NumPy column is the same analytic formula in both."""
    n = QUICK_SIZE if quick else SIZE
    out = []
    for mode, peer in (("forward", "jacfwd"), ("reverse", "jacrev")):
        builders = {
            "chainrule": partial(chainrule_step, n, mode),
            "compiled": partial(chainrule_step, n, mode, compiled=True),
            "torch": partial(torch_step, n, mode),
            "numpy": partial(numpy_step, n),
        }
        note = (
            f"{n}x{n} Jacobian of tanh(W x), float32; cr.jacobian(mode={mode!r}) vs "
            f"torch.func.{peer} vs analytic diag(1 - tanh^2) W"
        )
        out.append(Case(f"{mode} {n}x{n}", builders, rtol=1e-4, note=note))
    return out


WORKLOAD = Workload("jacobian", "full Jacobian of tanh(W x) in forward and reverse mode", cases)
