"""DistributedDataParallel: training on N processes equals one process on the same global batches.

In the ordinary run the world has one process (DDP must then equal plain training); under
``mpiexec -n 2`` the same tests check the real thing, plus those marked ``multiprocess``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.data import DataLoader, DistributedSampler, TensorDataset
from chainrule.models import lenet5
from chainrule.nn.parallel import DistributedDataParallel as DDP


def mlp(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 5)).double()


def lenet(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return lenet5((1, 28, 28), 10)


def flat(model: nn.Module) -> np.ndarray:
    return np.concatenate([p.cpu().numpy().ravel() for p in model.parameters()])


def same_on_every_rank(values: np.ndarray) -> bool:
    """Whether values are bit-identical on every rank."""
    n = dist.get_world_size()
    gathered = cr.zeros((n, values.size), dtype=values.dtype)
    dist.all_gather_into_tensor(gathered, cr.tensor(np.ascontiguousarray(values)))
    return bool((gathered.cpu().numpy() == gathered.cpu().numpy()[0]).all())


def train_both(build: Callable[[int], nn.Module], in_shape: tuple[int, ...], dtype: type,
               steps: int = 20, per_rank: int = 4, bucket_cap_mb: float = 25.0) -> list[float]:
    """Train a DDP replica and a one-process reference on the same global batches.

    Returns the max abs difference between their weights after each step, having checked that
    every rank holds bit-identical weights after each step.
    """
    rank, n = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * per_rank * n, *in_shape)).astype(dtype)
    y = rng.integers(0, 5, len(x))
    data = TensorDataset(cr.tensor(x), cr.tensor(y))
    reference = build(0)
    # other ranks start from other weights: the broadcast from rank 0 must fix them
    model = DDP(build(100 * rank), bucket_cap_mb=bucket_cap_mb)
    opt_ref = cr.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    samplers = [DistributedSampler(data, n, r, seed=7) for r in range(n)]
    shares = [list(s) for s in samplers]  # what each rank's loader yields, in order
    loader = DataLoader(data, batch_size=per_rank, sampler=samplers[rank])
    diffs = []
    for step, (xb, yb) in enumerate(loader):
        idx = np.concatenate([s[step * per_rank:(step + 1) * per_rank] for s in shares])
        opt_ref.zero_grad()
        F.cross_entropy(reference(cr.tensor(x[idx])), cr.tensor(y[idx])).backward()
        opt_ref.step()
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
        assert same_on_every_rank(flat(model)), f"ranks differ after step {step}"
        diffs.append(float(np.abs(flat(model) - flat(reference)).max()))
    assert len(diffs) == steps
    return diffs


@pytest.mark.parametrize("bucket_cap_mb", [25.0, 0.002])
def test_mlp_float64_equals_one_process(world, bucket_cap_mb):
    diffs = train_both(mlp, (12,), np.float64, bucket_cap_mb=bucket_cap_mb)
    assert max(diffs) < 1e-10, diffs


def test_lenet5_float32_equals_one_process(world):
    diffs = train_both(lenet, (1, 28, 28), np.float32, bucket_cap_mb=0.02)
    assert max(diffs) < 1e-5, diffs


def test_buckets_start_during_backward(world):
    """With small buckets the last layer's allreduce starts before the first layer's gradient."""
    model = DDP(mlp(0), bucket_cap_mb=0.001)
    assert len(model._buckets) >= 3
    first = model.module[0].weight
    seen = []
    first.register_post_accumulate_grad_hook(lambda p: seen.append(model._next))
    F.cross_entropy(model(cr.randn(4, 12).double()), cr.tensor([0, 1, 2, 3])).backward()
    assert seen
    assert seen[0] >= 1
    assert model._next == len(model._buckets)


def test_no_sync_accumulates_then_averages(world):
    rank, n = world
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((3, n, 4, 12))
    ys = rng.integers(0, 5, (3, n, 4))
    reference, model = mlp(0), DDP(mlp(0))
    for k in range(3):
        F.cross_entropy(reference(cr.tensor(xs[k].reshape(-1, 12))),
                        cr.tensor(ys[k].reshape(-1))).backward()
    for k in range(2):
        with model.no_sync():
            F.cross_entropy(model(cr.tensor(xs[k, rank])), cr.tensor(ys[k, rank])).backward()
    F.cross_entropy(model(cr.tensor(xs[2, rank])), cr.tensor(ys[2, rank])).backward()
    for p, q in zip(model.module.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-12)


def test_unused_parameter_gets_the_same_zero_gradient_everywhere(world):
    class Partly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(3, 2)
            self.unused = nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    model = DDP(Partly())
    model(cr.randn(2, 3)).sum().backward()
    assert model.module.used.weight.grad is not None
    assert not model.module.unused.weight.grad.cpu().numpy().any()


def test_state_dict_and_buffers_come_from_rank_0(world):
    rank, _ = world
    cr.manual_seed(rank)
    inner = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    inner[1].running_mean._data[...] = rank
    model = DDP(inner)
    assert next(iter(model.state_dict())) == "module.0.weight"
    assert not model.module[1].running_mean.cpu().numpy().any()
    assert same_on_every_rank(flat(model.module))
    assert "world_size" in repr(model)


def test_needs_an_initialised_group(monkeypatch):
    monkeypatch.setattr(dist.process_group._WORLD, "group", None)
    with pytest.raises(ValueError, match="init_process_group"):
        DDP(nn.Linear(2, 2))


@pytest.mark.multiprocess
def test_a_model_that_differs_between_ranks_is_refused_on_every_rank(world):
    rank, _ = world
    with pytest.raises(RuntimeError, match=r"every process must hold the same model.*rank 1"):
        DDP(nn.Sequential(nn.Linear(4, 3 + min(rank, 1)), nn.ReLU()))
    with pytest.raises(RuntimeError, match="float64"):
        DDP(nn.Linear(4, 3).double() if rank else nn.Linear(4, 3))
    dist.barrier()  # and every rank is still in step afterwards


@pytest.mark.multiprocess
def test_ranks_see_different_data(world):
    rank, n = world
    shares = [set(DistributedSampler(range(10), n, r)) for r in range(n)]
    assert not shares[0] & shares[1]
    t = cr.tensor(np.array([float(rank)]))
    dist.all_reduce(t)
    assert t.item() == n * (n - 1) / 2


def test_buckets_are_rebuilt_in_the_order_backward_made_gradients_ready(world):
    class Backwards(nn.Module):
        """Layers registered in the reverse of the order forward uses them."""

        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Linear(16, 5)
            self.b = nn.Linear(32, 16)
            self.a = nn.Linear(12, 32)

        def forward(self, x):
            return self.c(cr.tanh(self.b(cr.tanh(self.a(x)))))

    cr.manual_seed(0)
    model = DDP(Backwards().double(), bucket_cap_mb=0.001)
    first_guess = [p for b in model._buckets for p in b.params]
    assert first_guess[0] is model.module.a.bias  # reverse registration: wrong for this model
    reference = Backwards().double()
    reference.load_state_dict(model.module.state_dict())
    x, y = cr.randn(4, 12).double(), cr.tensor([0, 1, 2, 3])
    for _ in range(2):
        model.zero_grad()
        reference.zero_grad()
        F.cross_entropy(model(x), y).backward()
        F.cross_entropy(reference(x), y).backward()
        for p, q in zip(model.module.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-12)
    rebuilt = [p for b in model._buckets for p in b.params]
    assert rebuilt[0] is model.module.c.bias
    assert rebuilt[-1] is model.module.a.weight
    seen = []  # now the first bucket starts before the first layer's gradient is ready
    model.module.a.weight.register_post_accumulate_grad_hook(lambda p: seen.append(model._next))
    F.cross_entropy(model(x), y).backward()
    assert seen[0] >= 1
