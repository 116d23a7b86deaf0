"""Training-step times on one CUDA GPU: chainrule (CuPy) against PyTorch CUDA, same workloads.

Run by benchmarks/gpu_check.sh on a machine with CuPy and PyTorch CUDA (``PYTHONPATH=src``).
Workloads (cross-entropy, SGD): MLP 784-256-256-10 at batch 4096, LeNet-5 at batch 1024, the
small ResNet of chainrule.models (16-32-64, 1x28x28) at batch 256, and an LSTM(28 -> 128) reading
28x28 images row by row at batch 256. Each line prints ms/step for both and the ratio
chainrule/PyTorch; a workload that fails prints FAIL and the error, and the others still run.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

WARMUP, STEPS, BUDGET_S = 3, 20, 60.0  # per framework and workload


def _time(step: Callable[[], Any], sync: Callable[[], None]) -> float:
    """Median-free mean ms/step over STEPS after WARMUP (fewer when over BUDGET_S)."""
    for _ in range(WARMUP):
        step()
    sync()
    start, n = time.perf_counter(), 0
    while n < STEPS and time.perf_counter() - start < BUDGET_S:
        step()
        n += 1
    sync()
    return (time.perf_counter() - start) / max(n, 1) * 1e3


def _torch_models(name: str) -> Any:
    import torch
    from torch import nn

    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if name == "resnet":
        class Block(nn.Module):
            def __init__(self, cin: int, c: int, stride: int) -> None:
                super().__init__()
                self.c1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
                self.b1 = nn.BatchNorm2d(c)
                self.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
                self.b2 = nn.BatchNorm2d(c)
                self.down = (nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False),
                                           nn.BatchNorm2d(c)) if stride != 1 or cin != c
                             else nn.Identity())

            def forward(self, x: Any) -> Any:
                y = torch.relu(self.b1(self.c1(x)))
                return torch.relu(self.b2(self.c2(y)) + self.down(x))

        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                             nn.ReLU(), Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    class Rows(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(28, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x.reshape(x.shape[0], 28, 28))
            return self.head(out[:, -1])

    return Rows()


WORKLOADS = [("mlp", 4096), ("lenet5", 1024), ("resnet", 256), ("lstm", 256)]


def torch_ms(name: str, batch: int, x: np.ndarray, y: np.ndarray) -> float:
    import torch

    torch.manual_seed(0)
    model = _torch_models(name).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()

    return _time(step, torch.cuda.synchronize)


def chainrule_ms(name: str, batch: int, x: np.ndarray, y: np.ndarray) -> float:
    import chainrule as cr
    import chainrule.nn.functional as F
    from chainrule import models

    cr.manual_seed(0)
    shape = (784,) if name == "mlp" else (1, 28, 28)
    model = models.build(name, shape, 10, **({"dropout": 0.0} if name == "mlp" else {}))
    model.to("cuda")
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    xc = cr.tensor(x.reshape(batch, -1) if name == "mlp" else x, device="cuda")
    yc = cr.tensor(y, device="cuda")

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(xc), yc).backward()
        opt.step()

    return _time(step, cr.cuda.synchronize)


def main() -> int:
    """Print one line per workload; exit status 1 when any chainrule workload failed."""
    rng = np.random.default_rng(0)
    failed = 0
    print(f"{'workload':10s} {'batch':>6s} {'chainrule ms':>13s} {'torch ms':>9s} {'ratio':>7s}")
    for name, batch in WORKLOADS:
        x = rng.random((batch, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        try:
            t = torch_ms(name, batch, x, y)
        except Exception as e:  # report and go on: the other workloads still run
            print(f"{name:10s} {batch:6d} torch FAIL: {type(e).__name__}: {e}"[:200])
            t = float("nan")
        try:
            c = chainrule_ms(name, batch, x, y)
        except Exception as e:
            tb = [f for f in traceback.extract_tb(e.__traceback__) if "chainrule" in f.filename]
            at = f" @ {tb[-1].filename.split('src/')[-1]}:{tb[-1].lineno}" if tb else ""
            print(f"{name:10s} {batch:6d} chainrule FAIL: {type(e).__name__}: {str(e)[:120]}{at}")
            failed += 1
            continue
        print(f"{name:10s} {batch:6d} {c:13.2f} {t:9.2f} {c / t:7.2f}x", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
