"""DistributedSampler: each process's share of a dataset's indices, as PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from chainrule.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Rank ``rank``'s indices: every ``num_replicas``-th of one (shuffled) order of the dataset.

    As PyTorch's: the order of epoch ``e`` is a permutation seeded by ``seed + e`` (the same on
    every rank; call ``set_epoch`` before each epoch), padded by repeating its start to a multiple
    of ``num_replicas`` (or cut down to one with ``drop_last``); rank r takes positions r,
    r + num_replicas, ... ``num_replicas`` and ``rank`` default to the process group's.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from chainrule import distributed as dist  # only when the group must be asked

            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call "
                    "chainrule.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def order(self, n: int) -> np.ndarray:
        """The whole dataset's order in this epoch, before padding and sharding."""
        if self.shuffle:
            return np.random.default_rng(self.seed + self.epoch).permutation(n)
        return np.arange(n)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = self.order(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats the order from its start
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order in the next pass (the same on every rank)."""
        self.epoch = epoch
