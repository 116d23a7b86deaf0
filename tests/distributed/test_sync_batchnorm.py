"""SyncBatchNorm and the differentiable all_reduce: N processes equal one on the global batch.

In the ordinary run the world has one process (SyncBatchNorm must equal BatchNorm there); under
``mpiexec -n 2`` the same tests compare two processes with one on the concatenated batches.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.distributed.functional import all_reduce
from chainrule.nn.parallel import DistributedDataParallel as DDP


def net(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 8), nn.BatchNorm1d(8), nn.Tanh(),
                         nn.Linear(8, 3)).double()


def test_differentiable_all_reduce_in_both_modes(world):
    rank, n = world
    x = cr.tensor(np.arange(3.0) + rank, requires_grad=True)
    y = all_reduce(x * x)
    expected = sum((np.arange(3.0) + r) ** 2 for r in range(n))
    np.testing.assert_allclose(y.cpu().numpy(), expected)
    (y * (rank + 1)).sum().backward()
    # d/dx_rank of sum_r (r + 1) * sum_s x_s^2 = 2 x_rank * sum_r (r + 1)
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * x.cpu().numpy() * sum(range(1, n + 1)))
    _, tangent = cr.jvp(lambda v: all_reduce(v, op=dist.ReduceOp.AVG),
                        (cr.tensor(np.ones(2)),), (cr.tensor(np.full(2, float(rank))),))
    np.testing.assert_allclose(tangent.cpu().numpy(), np.full(2, (n - 1) / 2))
    with pytest.raises(ValueError, match=r"SUM or ReduceOp\.AVG"):
        all_reduce(x, op=dist.ReduceOp.MAX)


def test_sync_batchnorm_equals_batchnorm_on_the_global_batch(world):
    rank, n = world
    rng = np.random.default_rng(3)
    per_rank = 3
    x = rng.standard_normal((4, per_rank * n, 2, 6, 6))
    y = rng.integers(0, 3, (4, per_rank * n))
    reference = net(0)
    model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(net(0)))
    assert isinstance(model.module[1], nn.SyncBatchNorm)
    opt_ref = cr.optim.SGD(reference.parameters(), lr=0.1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    mine = slice(rank * per_rank, (rank + 1) * per_rank)
    for step in range(4):
        opt_ref.zero_grad()
        ref_loss = F.cross_entropy(reference(cr.tensor(x[step])), cr.tensor(y[step]))
        ref_loss.backward()
        opt.zero_grad()
        loss = F.cross_entropy(model(cr.tensor(x[step, mine])), cr.tensor(y[step, mine]))
        loss.backward()
        for p, q in zip(model.module.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-12)
        opt_ref.step()
        opt.step()
    for a, b in zip(model.module.buffers(), reference.buffers()):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), atol=1e-12)
    model.eval()
    reference.eval()
    np.testing.assert_allclose(model(cr.tensor(x[0, mine])).cpu().numpy(),
                               reference(cr.tensor(x[0, mine])).cpu().numpy(), atol=1e-12)


def test_sync_batchnorm_checks_its_input(world):
    bn = nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match="SyncBatchNorm: expected 2D or 3D or 4D or 5D input"):
        bn(cr.randn(3))
