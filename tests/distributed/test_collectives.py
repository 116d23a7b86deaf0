"""Process group and collectives: in a world of one (ordinary run) and of N (under mpiexec)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import ReduceOp


def ranked(rank: int, shape: tuple[int, ...] = (2, 3), dtype: type = np.float64) -> cr.Tensor:
    """A tensor whose values tell which rank made it."""
    return cr.tensor(np.arange(np.prod(shape), dtype=dtype).reshape(shape) + 10 * rank)


@pytest.mark.parametrize(
    ("op", "expect"),
    [(ReduceOp.SUM, np.sum), (ReduceOp.AVG, np.mean), (ReduceOp.MAX, np.max),
     (ReduceOp.MIN, np.min), (ReduceOp.PRODUCT, np.prod)],
)
def test_all_reduce_every_op(world, op, expect):
    rank, n = world
    t = ranked(rank)
    dist.all_reduce(t, op=op)
    want = expect(np.stack([ranked(r).cpu().numpy() for r in range(n)]), axis=0)
    np.testing.assert_allclose(t.cpu().numpy(), want, rtol=1e-12)


def test_all_reduce_async_works_in_place_on_a_view(world):
    rank, n = world
    base = ranked(rank, (3, 4))
    view = base.T  # not contiguous: results still land in base's memory
    work = dist.all_reduce(view, async_op=True)
    assert work is not None
    assert work.wait()
    assert work.is_completed()
    want = sum(ranked(r, (3, 4)).cpu().numpy() for r in range(n))
    np.testing.assert_array_equal(base.cpu().numpy(), want)


def test_all_reduce_keeps_dtype_and_integer_sums(world):
    rank, n = world
    t = cr.tensor(np.array([rank, 1], dtype=np.int64))
    dist.all_reduce(t)
    assert t.dtype == np.int64
    assert t.tolist() == [n * (n - 1) // 2, n]
    f = ranked(rank, (4,), np.float32)
    dist.all_reduce(f, op=ReduceOp.AVG)
    assert f.dtype == np.float32


def test_avg_of_integers_is_refused(world):
    with pytest.raises(TypeError, match="AVG needs a floating tensor"):
        dist.all_reduce(cr.tensor(np.array([1], dtype=np.int64)), op=ReduceOp.AVG)


def test_broadcast_from_every_source(world):
    rank, n = world
    for src in range(n):
        t = ranked(rank)
        dist.broadcast(t, src=src)
        np.testing.assert_array_equal(t.cpu().numpy(), ranked(src).cpu().numpy())
    with pytest.raises(ValueError, match="not in a world"):
        dist.broadcast(ranked(rank), src=n)


def test_all_gather_and_into_tensor(world):
    rank, n = world
    out = [cr.zeros((2, 3), dtype=np.float64) for _ in range(n)]
    assert dist.all_gather(out, ranked(rank)) is None  # synchronous: nothing to wait for
    for r in range(n):
        np.testing.assert_array_equal(out[r].cpu().numpy(), ranked(r).cpu().numpy())
    flat = cr.zeros((2 * n, 3), dtype=np.float64)
    dist.all_gather_into_tensor(flat, ranked(rank), async_op=True).wait()
    np.testing.assert_array_equal(flat.cpu().numpy(), np.concatenate([ranked(r).cpu().numpy()
                                                                for r in range(n)]))


def test_all_gather_of_0d_tensors(world):
    rank, n = world
    out = [cr.tensor(np.float32(-1.0)) for _ in range(n)]
    dist.all_gather(out, cr.tensor(np.float32(rank + 0.5)))
    assert [o.shape for o in out] == [()] * n
    assert [float(o) for o in out] == [r + 0.5 for r in range(n)]


def test_reduce_scatter_and_tensor(world):
    rank, n = world
    out = cr.zeros((2, 3), dtype=np.float64)
    dist.reduce_scatter(out, [ranked(rank + i) for i in range(n)])
    np.testing.assert_array_equal(out.cpu().numpy(),
                                  sum(ranked(r + rank).cpu().numpy() for r in range(n)))
    src = cr.tensor(np.concatenate([ranked(rank + i).cpu().numpy() for i in range(n)]))
    out2 = cr.zeros((2, 3), dtype=np.float64)
    dist.reduce_scatter_tensor(out2, src, op=ReduceOp.AVG)
    np.testing.assert_allclose(out2.cpu().numpy(), out.cpu().numpy() / n)


def test_mismatched_list_lengths_are_refused(world):
    _, n = world
    with pytest.raises(ValueError, match="tensor_list has"):
        dist.all_gather([cr.zeros(2)] * (n + 1), cr.zeros(2))
    with pytest.raises(ValueError, match="every tensor must be"):
        dist.reduce_scatter(cr.zeros(2), [cr.zeros(3)] * n)


def test_barrier_and_group_queries(world):
    rank, n = world
    assert dist.is_initialized()
    assert dist.get_backend() == "mpi"
    assert 0 <= rank < n
    dist.barrier()
    dist.barrier(async_op=True).wait()


def test_second_init_is_refused_and_destroy_allows_a_new_group(world):
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend='mpi' only"):
        dist.init_process_group("nccl")
    dist.init_process_group("mpi", timeout=120.0)
    assert (dist.get_rank(), dist.get_world_size()) == world


def test_a_wait_past_its_timeout_raises_instead_of_hanging(monkeypatch):
    from chainrule.distributed import collectives

    class Request:
        """Requests that never finish, as when a peer died."""

        @staticmethod
        def Testall(requests: list) -> bool:
            return False

    class StubMPI:
        pass

    StubMPI.Request = Request
    monkeypatch.setattr(collectives, "mpi", lambda: StubMPI)
    with pytest.raises(dist.DistributedError, match=r"all_reduce did not complete within 0.05 s"):
        collectives.wait_all([object()], 0.05, "all_reduce")


def test_without_the_extra_init_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setattr(dist.process_group._WORLD, "group", None)
    with pytest.raises(ImportError, match=r"chainrule\[mpi\]"):
        dist.init_process_group()


def test_import_chainrule_does_not_import_mpi4py():
    code = ("import sys, chainrule, chainrule.distributed, chainrule.nn.parallel, "
            "chainrule.torch.distributed; print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
