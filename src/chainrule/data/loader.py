"""DataLoader: batches of a Dataset as PyTorch's, shuffled reproducibly per epoch, resumable
mid-epoch, loaded in-process or by worker processes."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice, repeat
from typing import Any

import numpy as np

from chainrule.data.collate import IterableFetcher, default_collate, default_convert, fetch_map
from chainrule.data.dataset import Dataset, IterableDataset
from chainrule.data.sampler import (
    BatchSampler,
    EpochRandomSampler,
    Sampler,
    SequentialSampler,
    draw_seed,
)
from chainrule.data.worker import LoadSpec, WorkerPool

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _context(value: Any) -> Any:
    """A multiprocessing context: 'fork' on Linux unless another is named."""
    if value is None:
        methods = multiprocessing.get_all_start_methods()
        fork = sys.platform.startswith("linux") and "fork" in methods
        return multiprocessing.get_context("fork" if fork else None)
    if isinstance(value, str):
        return multiprocessing.get_context(value)
    return value


def _length(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


class DataLoader:
    """Iterate over a dataset in batches, with PyTorch's DataLoader's signature and behaviour.

    Shuffled order of epoch ``e`` is ``default_rng([seed, e]).permutation(n)``: reproducible from
    ``seed`` alone, new each epoch. With ``seed=None`` the seed is drawn from ``generator`` (a
    ``numpy.random.Generator``) or from chainrule's global generator (so ``cr.manual_seed`` fixes
    it). A TensorDataset (or a Subset of one, or any dataset exposing an ``arrays`` tuple with
    ``dataset[i] == tuple(a[i] for a in arrays)``) is batched by fancy indexing its arrays.
    ``num_workers=N`` loads batches in N worker processes ('fork' on Linux unless
    ``multiprocessing_context`` names another), yielding the very batches of ``num_workers=0``.
    ``state_dict()`` records the epoch and its ``position`` (batches already yielded); after
    ``load_state_dict`` the next iteration yields exactly the rest of that epoch (exactly when
    the order comes from the loader's seed). Starting a new iteration after an unfinished one
    begins the next epoch, as PyTorch does. ``pin_memory`` is accepted and does nothing (CPU).
    """

    def __init__(
        self,
        dataset: Dataset[Any] | Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: Sampler[Any] | Iterable[Any] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        seed: int | None = None,
    ) -> None:
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, int | np.integer) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={num_workers}")
        shuffle = bool(shuffle)
        is_iterable = isinstance(dataset, IterableDataset)
        if is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value!r}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if seed is None and shuffle:
            seed = draw_seed(generator)
        self.seed: int | None = None if seed is None else int(seed)
        if sampler is None and not is_iterable:
            sampler = (EpochRandomSampler(dataset, self.seed) if shuffle  # type: ignore[arg-type]
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not is_iterable:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))  # type: ignore[arg-type]

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        auto_collation = batch_sampler is not None or (is_iterable and batch_size is not None)
        self.collate_fn: Callable[[Any], Any] = collate_fn or (
            default_collate if auto_collation else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers = persistent_workers
        self._pool: WorkerPool | None = None
        self._epoch = 0
        self._yielded = 0
        self._resume = False
        self._owner: object | None = None  # the iterator whose progress the state records

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (
            self._is_iterable and self.batch_size is not None)

    @property
    def _is_iterable(self) -> bool:
        return isinstance(self.dataset, IterableDataset)

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None  # type: ignore[arg-type]
                   else self.sampler)

    @property
    def epoch(self) -> int:
        """The epoch the current (or next) iteration covers, counting from 0."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration cover the whole of ``epoch``."""
        self._epoch, self._yielded, self._resume, self._owner = int(epoch), 0, False, None

    def __iter__(self) -> Iterator[Any]:
        if not self._resume and self._yielded > 0:  # the last pass stopped early: next epoch
            self._epoch, self._yielded = self._epoch + 1, 0
        self._resume = False
        owner = object()
        self._owner = owner
        return self._batches(self._epoch, self._yielded, owner)

    def _batches(self, epoch: int, start: int, owner: object) -> Iterator[Any]:
        if isinstance(self.sampler, EpochRandomSampler):
            self.sampler.seed = self.seed  # type: ignore[assignment]
            self.sampler.set_epoch(epoch)
        pool = None
        try:
            if self.num_workers:
                pool = self._pool or self._start_pool()
                if self.persistent_workers:
                    self._pool = pool
                tasks = repeat(None) if self._is_iterable else self._tasks(start)
                batches = pool.run(tasks)
                if self._is_iterable:
                    batches = islice(batches, start, None)
            else:
                batches = self._in_process(start)
            for b, batch in enumerate(batches, start):
                if self._owner is owner:
                    self._yielded = b + 1
                yield batch
        finally:
            if pool is not None and pool is not self._pool:
                pool.shutdown()
        if self._owner is owner:
            self._epoch, self._yielded, self._owner = epoch + 1, 0, None

    def _tasks(self, start: int) -> Iterator[Any]:
        """The index batches (or single indices, without auto-collation) of this pass."""
        source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        return islice(iter(source), start, None)  # type: ignore[arg-type]

    def _spec(self) -> LoadSpec:
        return LoadSpec(self.dataset, self._is_iterable, self._auto_collation, self.collate_fn,
                        self.batch_size, self.drop_last, self.worker_init_fn)

    def _in_process(self, start: int) -> Iterator[Any]:
        spec = self._spec()
        if not spec.is_iterable:
            for indices in self._tasks(start):
                yield fetch_map(spec.dataset, indices, spec.auto_collation, spec.collate_fn)
            return
        fetcher = IterableFetcher(spec.dataset, spec.auto_collation, spec.collate_fn,
                                  spec.batch_size, spec.drop_last)
        for b in range(sys.maxsize):
            try:
                batch = fetcher.fetch()
            except StopIteration:
                return
            if b >= start:
                yield batch

    def _start_pool(self) -> WorkerPool:
        return WorkerPool(self._spec(), self.num_workers, _context(self.multiprocessing_context),
                          draw_seed(self.generator), self.prefetch_factor or 2, self.timeout)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    def state_dict(self) -> dict[str, Any]:
        """Epoch and batches already yielded in it, with the settings a resume must share."""
        return {
            "epoch": self._epoch,
            "position": self._yielded,  # batches of this epoch already yielded
            "seed": self.seed,
            "shuffle": self.shuffle,
            "batch_size": self.batch_size,
            "num_samples": _length(self.dataset),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration yields the rest of the recorded epoch, in the same order."""
        missing = {"epoch", "position", "seed", "shuffle", "batch_size",
                   "num_samples"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        for key, own in (("shuffle", self.shuffle), ("batch_size", self.batch_size),
                         ("num_samples", _length(self.dataset))):
            if state[key] != own:
                raise ValueError(
                    f"DataLoader.load_state_dict: state has {key}={state[key]!r} but this "
                    f"loader has {key}={own!r}; the batch order would differ"
                )
        epoch, yielded = int(state["epoch"]), int(state["position"])
        if epoch < 0 or yielded < 0 or (_length(self.dataset) is not None
                                        and yielded > len(self)):
            raise ValueError(
                f"DataLoader.load_state_dict: epoch={epoch}, position={yielded} out of "
                f"range for a loader of {len(self)} batches"
            )
        self.seed = None if state["seed"] is None else int(state["seed"])
        self._epoch, self._yielded, self._resume, self._owner = epoch, yielded, True, None
