"""Which chainrule paths already run on CuPy arrays (a GPU machine only; not part of CI).

Run on a machine with CuPy: ``PYTHONPATH=src python benchmarks/gpu_probe.py``. Each line says
OK (the result is a CuPy array) or FAIL with the innermost chainrule frame, so the CUDA backend
(issue 10) can be built op by op. It also times PyTorch's CUDA MLP step at batch 4096.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


def main() -> None:
    """Probe ops, a training step and a convolution on CuPy arrays."""
    try:
        import cupy as cp
    except ImportError as e:
        print("no cupy:", e)
        return
    import chainrule as cr
    import chainrule.nn as nn
    import chainrule.nn.functional as F
    from chainrule.tensor import Tensor

    def dev(a: Any, requires_grad: bool = False) -> Tensor:
        return Tensor._make(cp.asarray(a), requires_grad, None)

    def probe(name: str, fn: Callable[[], Any]) -> None:
        try:
            out = fn()
            print(f"OK   {name}: {type(getattr(out, '_data', out)).__module__}")
        except Exception as e:  # a probe reports every failure and goes on
            frames = [f for f in traceback.extract_tb(e.__traceback__) if "chainrule" in f.filename]
            f = frames[-1] if frames else traceback.extract_tb(e.__traceback__)[-1]
            where = f"{f.filename.split('src/')[-1]}:{f.lineno}"
            print(f"FAIL {name}: {type(e).__name__}: {str(e)[:100]} @ {where}")

    rng = np.random.default_rng(0)
    x = dev(rng.standard_normal((64, 32)).astype(np.float32))
    w = dev(rng.standard_normal((16, 32)).astype(np.float32), True)
    probe("mul", lambda: x * 2)
    probe("exp", lambda: cr.exp(x))
    probe("matmul", lambda: x @ w.mT)
    probe("sum backward", lambda: (x @ w.mT).sum().backward())
    probe("cross_entropy", lambda: F.cross_entropy(x @ w.mT, dev(rng.integers(0, 16, 64))))

    def mlp_step() -> Any:
        m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
        for p in m.parameters():
            p._data = cp.asarray(p._data)
        loss = F.cross_entropy(m(x), dev(rng.integers(0, 10, 64)))
        loss.backward()
        cr.optim.SGD(m.parameters(), lr=0.1).step()
        return loss

    def conv() -> Any:
        c = nn.Conv2d(1, 4, 3, padding=1)
        for p in c.parameters():
            p._data = cp.asarray(p._data)
        out = c(dev(rng.standard_normal((2, 1, 8, 8)).astype(np.float32)))
        out.sum().backward()
        return out

    probe("mlp step", mlp_step)
    probe("conv2d", conv)
    _torch_baseline()


def _torch_baseline() -> None:
    try:
        import torch
    except ImportError:
        return
    m = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                            torch.nn.ReLU(), torch.nn.Linear(256, 10)).cuda()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    xb, yb = torch.randn(4096, 784, device="cuda"), torch.randint(0, 10, (4096,), device="cuda")

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(xb), yb).backward()
        opt.step()

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(21):
        t = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    print(f"torch CUDA MLP step, batch 4096: {1000 * sorted(times)[10]:.3f} ms (median of 21)")


if __name__ == "__main__":
    main()
