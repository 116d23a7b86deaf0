"""A LeNet-5 training step: batch 64 of 1x28x28, float32, cross-entropy, backward, SGD."""

from __future__ import annotations

import numpy as np
from harness import Case, Step, Workload
from numpy.lib.stride_tricks import sliding_window_view

from workloads.mlp import first_result, softmax_cross_entropy

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


def weights() -> dict[str, np.ndarray]:
    """The initial state dict as fresh float32 arrays: torch's when torch is installed, else
    chainrule's models.lenet5 under cr.manual_seed(0)."""
    try:
        model = torch_model()
    except ImportError:
        import chainrule as cr
        from chainrule import models

        cr.manual_seed(0)
        model = models.lenet5((1, 28, 28), 10)
    return {k: np.array(v, np.float32) for k, v in model.state_dict().items()}


def _im2col(x: np.ndarray, k: int, out: np.ndarray) -> np.ndarray:
    """(C, N, H, W) -> (C * k * k, N * Ho * Wo) patch columns, copied from a strided view into
    `out` (a buffer kept between steps: fresh multi-MiB arrays cost a page fault per 4 KiB)."""
    win = sliding_window_view(x, (k, k), axis=(2, 3))  # (C, N, Ho, Wo, k, k), a view
    np.copyto(out.reshape(win.shape[0], k, k, *win.shape[1:4]), win.transpose(0, 4, 5, 1, 2, 3))
    return out


def _pool_relu(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pool, then ReLU (they commute), of (C, N, H, W): the output and the argmax mask."""
    c, n, h, w = z.shape
    zr = z.reshape(c, n, h // 2, 2, w // 2, 2)
    p = np.maximum(zr[:, :, :, 0], zr[:, :, :, 1])  # (C, N, H/2, W/2, 2)
    p = np.maximum(p[..., 0], p[..., 1])
    mask = zr == p[:, :, :, None, :, None]
    np.maximum(p, 0, out=p)
    return p, mask


def _unpool_relu(d: np.ndarray, p: np.ndarray, mask: np.ndarray, out: np.ndarray) -> np.ndarray:
    """_pool_relu's backward: the (C, N, H/2, W/2) cotangent of its output, written into `out`
    as that of its input, (C, N * H * W)."""
    d = d * (p > 0)
    np.multiply(mask, d[:, :, :, None, :, None], out=out.reshape(mask.shape))
    return out


def numpy_step(batch: int) -> Step:
    """Hand-written NumPy in (C, N, H, W) layout, so that every convolution is one matmul of the
    kernel (O, C*k*k) with im2col patches, and col2im is 25 shifted adds; pooling by reshape,
    the backprop equations, SGD."""
    x0, y = inputs(batch)
    sd = weights()
    params = [sd[k].reshape(len(sd[k]), -1) if k.endswith("weight") else sd[k]
              for k in ("0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                        "9.weight", "9.bias", "11.weight", "11.bias")]
    xp = np.zeros((1, batch, 32, 32), np.float32)
    c1, z1_out = np.empty((25, batch * 784), np.float32), np.empty((6, batch * 784), np.float32)
    c2 = np.empty((150, batch * 100), np.float32)
    # col2im on "wide" rows: the output gradient padded from 10 to 14 columns with zeros makes
    # the input position of each kernel offset one flat shift, so each of the 25 adds is over
    # runs of 140 (not 10) numbers; the last row's spill needs 4 spare columns.
    gw, dc = np.zeros((16, batch, 10, 14), np.float32), np.empty((150, batch * 140), np.float32)
    da1 = np.empty((6, batch, 14 * 14 + 4), np.float32)
    dz1, dz2 = np.empty((6, batch * 784), np.float32), np.empty((16, batch * 100), np.float32)
    rows = np.arange(batch)

    def step() -> float:
        k1, b1, k2, b2, w3, b3, w4, b4, w5, b5 = params
        xp[0, :, 2:30, 2:30] = x0[:, 0]  # padding 2
        _im2col(xp, 5, c1)  # (25, N*784)
        z1 = np.matmul(k1, c1, out=z1_out)
        z1 += b1[:, None]
        a1, m1 = _pool_relu(z1.reshape(6, batch, 28, 28))  # (6, N, 14, 14)
        _im2col(a1, 5, c2)  # (150, N*100)
        z2 = k2 @ c2
        z2 += b2[:, None]
        a2, m2 = _pool_relu(z2.reshape(16, batch, 10, 10))  # (16, N, 5, 5)
        f = a2.transpose(1, 0, 2, 3).reshape(batch, 400)  # torch's flatten order
        z3 = f @ w3.T
        z3 += b3
        a3 = np.maximum(z3, 0)
        z4 = a3 @ w4.T
        z4 += b4
        a4 = np.maximum(z4, 0)
        z = a4 @ w5.T
        z += b5
        loss, g = softmax_cross_entropy(z, y, rows)
        dw5, db5 = g.T @ a4, g.sum(0)
        g = (g @ w5) * (z4 > 0)
        dw4, db4 = g.T @ a3, g.sum(0)
        g = (g @ w4) * (z3 > 0)
        dw3, db3 = g.T @ f, g.sum(0)
        g = (g @ w3).reshape(batch, 16, 5, 5).transpose(1, 0, 2, 3)
        g = _unpool_relu(g, a2, m2, dz2)  # (16, N*100)
        dk2, db2 = g @ c2.T, g.sum(1)
        gw[..., :10] = g.reshape(16, batch, 10, 10)
        np.matmul(k2.T, gw.reshape(16, -1), out=dc)
        dcv = dc.reshape(6, 5, 5, batch, 140)  # col2im: 25 shifted adds
        da1.fill(0)
        for i in range(5):
            for j in range(5):
                da1[:, :, 14 * i + j:14 * i + j + 140] += dcv[:, i, j]
        g = _unpool_relu(da1[:, :, :196].reshape(6, batch, 14, 14), a1, m1, dz1)  # (6, N*784)
        grads = (g @ c1.T, g.sum(1), dk2, db2, dw3, db3, dw4, db4, dw5, db5)
        for p, dp in zip(params, grads, strict=True):
            p -= 0.01 * dp
        return loss

    return step


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
    model.load_state_dict(weights())
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


def compiled_step(batch: int) -> Step:
    """chainrule under cr.compile (the name memory.py looks up)."""
    return chainrule_step(batch, compiled=True)


def cases(quick: bool) -> list[Case]:
    """One training step per call (the first step's loss is checked across frameworks)."""
    batch = SIZES["quick" if quick else "full"]
    builders = {"chainrule": lambda: first_result(chainrule_step(batch)),
                "compiled": lambda: first_result(compiled_step(batch)),
                "torch": lambda: first_result(torch_step(batch)),
                "numpy": lambda: first_result(numpy_step(batch))}
    note = f"LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10), batch {batch}"
    return [Case("train step", builders, note=note)]


WORKLOAD = Workload("lenet", "a LeNet-5 training step (batch 64, 1x28x28)", cases)
