"""DataLoader: batches of a Dataset, shuffled reproducibly per epoch, resumable mid-epoch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.creation import default_rng
from chainrule.data.dataset import Dataset, TensorDataset
from chainrule.dtypes import get_default_dtype
from chainrule.tensor import Tensor


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples on a new first axis, recursing into tuples, lists and dicts.

    Tensors, ndarrays and NumPy scalars keep their dtype; Python ints become int64, bools bool,
    and Python floats the default float dtype (PyTorch uses float64; chainrule never silently
    makes float64). Strings stay a list. Batches are plain Tensors outside any graph.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor | np.ndarray | np.generic):
        arrays = [np.asarray(x._data if isinstance(x, Tensor) else x) for x in batch]
        for i, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(
                    f"default_collate: cannot stack samples of shapes {arrays[0].shape} "
                    f"(sample 0) and {a.shape} (sample {i})"
                )
        return Tensor(np.stack(arrays))
    if isinstance(elem, bool | int | float) and all(isinstance(x, bool | int | float)
                                                    for x in batch):
        if all(isinstance(x, bool) for x in batch):
            dtype: Any = np.bool_
        elif all(isinstance(x, int) for x in batch):
            dtype = np.int64
        else:
            dtype = get_default_dtype()
        return Tensor(np.array(batch, dtype=dtype))
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, Sequence):
        lengths = {len(sample) for sample in batch}
        if len(lengths) != 1:
            raise ValueError(f"default_collate: samples have different lengths {sorted(lengths)}")
        columns = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple):
            return type(elem)(*columns) if hasattr(elem, "_fields") else tuple(columns)
        return columns
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}")


def _whole_arrays(dataset: Any) -> tuple[np.ndarray, ...] | None:
    """The dataset's whole arrays when ``dataset[i] == tuple(a[i] for a in arrays)``, else None."""
    if isinstance(dataset, TensorDataset) and (
        type(dataset).__getitem__ is not TensorDataset.__getitem__
    ):
        return None  # a subclass that transforms samples must go through __getitem__
    arrays = getattr(dataset, "arrays", None)
    if isinstance(arrays, tuple) and arrays and all(isinstance(a, np.ndarray) for a in arrays):
        return arrays
    return None


class DataLoader:
    """Iterate over a dataset in batches, as PyTorch's DataLoader (single process).

    Shuffled order of epoch ``e`` is ``default_rng([seed, e]).permutation(n)``: reproducible from
    ``seed`` alone, new each epoch. With ``seed=None`` the seed is drawn from chainrule's global
    generator (so ``cr.manual_seed`` fixes it). A TensorDataset, or any dataset exposing an
    ``arrays`` tuple with ``dataset[i] == tuple(a[i] for a in arrays)``, is batched by fancy
    indexing its arrays. ``state_dict()`` records the epoch and its ``position`` (batches
    already yielded); after ``load_state_dict`` the next iteration yields exactly the rest of
    that epoch.
    Starting a new iteration after an unfinished one begins the next epoch, as PyTorch does.
    """

    def __init__(
        self,
        dataset: Dataset | Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        if seed is None and self.shuffle:
            seed = int(default_rng().integers(2**63))
        self.seed: int | None = None if seed is None else int(seed)
        self._epoch = 0
        self._yielded = 0
        self._resume = False
        self._owner: object | None = None  # the iterator whose progress the state records

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

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
        n, size = len(self.dataset), self.batch_size
        order = self._order(epoch, n)
        for b in range(start, len(self)):
            lo, hi = b * size, min((b + 1) * size, n)
            batch = self._fetch(order[lo:hi] if order is not None else slice(lo, hi))
            if self._owner is owner:
                self._yielded = b + 1
            yield batch
        if self._owner is owner:
            self._epoch, self._yielded, self._owner = epoch + 1, 0, None

    def _order(self, epoch: int, n: int) -> np.ndarray | None:
        if not self.shuffle:
            return None
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def _fetch(self, index: np.ndarray | slice) -> Any:
        arrays = _whole_arrays(self.dataset) if self.collate_fn is None else None
        if arrays is not None:
            # A slice is a view: copy, so that writing to a batch never changes the dataset.
            return tuple(Tensor(a[index].copy() if isinstance(index, slice) else a[index])
                         for a in arrays)
        positions = range(index.start, index.stop) if isinstance(index, slice) else index
        samples = [self.dataset[int(i)] for i in positions]
        return (self.collate_fn or default_collate)(samples)

    def state_dict(self) -> dict[str, Any]:
        """Epoch and batches already yielded in it, with the settings a resume must share."""
        return {
            "epoch": self._epoch,
            "position": self._yielded,  # batches of this epoch already yielded
            "seed": self.seed,
            "shuffle": self.shuffle,
            "batch_size": self.batch_size,
            "num_samples": len(self.dataset),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: the next iteration yields the rest of the recorded epoch, in the same order."""
        missing = {"epoch", "position", "seed", "shuffle", "batch_size",
                   "num_samples"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        for key, own in (("shuffle", self.shuffle), ("batch_size", self.batch_size),
                         ("num_samples", len(self.dataset))):
            if state[key] != own:
                raise ValueError(
                    f"DataLoader.load_state_dict: state has {key}={state[key]!r} but this "
                    f"loader has {key}={own!r}; the batch order would differ"
                )
        epoch, yielded = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= yielded <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: epoch={epoch}, position={yielded} out of "
                f"range for a loader of {len(self)} batches"
            )
        self.seed = None if state["seed"] is None else int(state["seed"])
        self._epoch, self._yielded, self._resume, self._owner = epoch, yielded, True, None
