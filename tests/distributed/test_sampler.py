"""DistributedSampler: PyTorch's split of a dataset's indices over processes."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.data import DataLoader, DistributedSampler, TensorDataset


def shares(n: int, replicas: int, **kwargs) -> list[list[int]]:
    return [list(DistributedSampler(range(n), replicas, r, **kwargs)) for r in range(replicas)]


@pytest.mark.parametrize(("n", "replicas"), [(10, 2), (11, 2), (10, 3), (2, 4), (1, 3)])
def test_padding_by_repetition_as_pytorch(n, replicas):
    got = shares(n, replicas, shuffle=False)
    size = -(-n // replicas)
    assert all(len(s) == size for s in got)
    order = (list(range(n)) * replicas)[: size * replicas]  # repeat from the start
    assert got == [order[r::replicas] for r in range(replicas)]


@pytest.mark.parametrize(("n", "replicas"), [(10, 3), (11, 2), (12, 4)])
def test_drop_last_cuts_to_a_multiple(n, replicas):
    got = shares(n, replicas, shuffle=False, drop_last=True)
    assert all(len(s) == n // replicas for s in got)
    assert sorted(i for s in got for i in s) == list(range(replicas * (n // replicas)))


def test_shuffle_is_one_permutation_per_epoch_shared_by_ranks():
    samplers = [DistributedSampler(range(20), 2, r, seed=3) for r in range(2)]
    first = [list(s) for s in samplers]
    assert sorted(first[0] + first[1]) == list(range(20))
    assert [list(s) for s in samplers] == first  # same epoch, same order
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first
    assert sorted(second[0] + second[1]) == list(range(20))
    other_seed = DistributedSampler(range(20), 2, 0, seed=4)
    assert list(other_seed) != first[0]


def test_invalid_rank_and_missing_group():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1"):
        DistributedSampler(range(4), 2, 2)
    import chainrule.distributed as dist

    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="init_process_group"):
            DistributedSampler(range(4))


def test_len_and_use_in_a_dataloader():
    data = TensorDataset(cr.arange(10), cr.arange(10) * 2)
    sampler = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False)
    assert len(sampler) == 4
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    xs = [x.tolist() for x, _ in loader]
    assert xs == [[1, 4], [7, 0]]
