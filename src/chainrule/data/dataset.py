"""Datasets as torch.utils.data has them: map-style and iterable, subsets, concatenation, splits."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from chainrule.backend import asarray
from chainrule.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)


class Dataset(ABC, Generic[T_co]):
    """A map-style dataset: ``dataset[i]`` is the i-th sample, ``len(dataset)`` the count.

    Generic as PyTorch's (``Dataset[tuple[Tensor, int]]``); ``a + b`` concatenates.
    """

    @abstractmethod
    def __getitem__(self, index: Any) -> T_co:
        """The sample at index."""

    def __add__(self, other: Dataset[Any]) -> ConcatDataset[Any]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: subclasses define ``__iter__``.

    With ``num_workers=N`` every worker iterates its own copy; use ``get_worker_info()`` inside
    ``__iter__`` to split the stream, as in PyTorch.
    """

    @abstractmethod
    def __iter__(self) -> Iterator[T_co]:
        """The samples, in order."""

    def __getitem__(self, index: Any) -> T_co:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, do not index it")

    def __add__(self, other: Dataset[Any]) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are ``(a[i], b[i], ...)`` for arrays (or Tensors) sharing their first dimension.

    ``arrays`` exposes the whole ndarrays, which lets DataLoader batch by fancy indexing instead
    of stacking one sample at a time.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: at least one tensor is required")
        arrays = tuple(t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensors)
        if any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset: tensors must share their first dimension, got shapes {shapes}"
            )
        self.arrays: tuple[np.ndarray, ...] = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The whole arrays as Tensors (shared memory), as PyTorch's ``.tensors``."""
        return tuple(Tensor(a) for a in self.arrays)

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        """The sample ``(a[index], b[index], ...)`` as Tensors."""
        return tuple(Tensor(asarray(a[index])) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({parts})"


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._cache: tuple[Any, np.ndarray] | None = None

    def positions(self) -> np.ndarray:
        """``indices`` as an int64 array (cached while ``indices`` is the same object)."""
        if self._cache is None or self._cache[0] is not self.indices:
            self._cache = (self.indices, np.asarray(self.indices, dtype=np.int64).reshape(-1))
        return self._cache[1]

    def __getitem__(self, index: Any) -> T_co:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """The samples of several map-style datasets one after another."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes: list[int] = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> T_co:
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError("absolute value of index should not exceed dataset length")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset[Any]):
    """The samples of several iterable datasets one after another."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)  # type: ignore[arg-type]


def split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """PyTorch's rule: fractions summing to 1 become floors, the remainder dealt round-robin."""
    total = sum(lengths)
    if not (math.isclose(total, 1) and total <= 1):
        return [int(x) for x in lengths]
    sizes = []
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        sizes.append(math.floor(n * frac))
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    for i, size in enumerate(sizes):
        if size == 0:
            warnings.warn(f"Length of split at index {i} is 0. "
                          "This might result in an empty dataset.", UserWarning, stacklevel=3)
    return sizes


def random_split(dataset: Dataset[T_co], lengths: Sequence[float],
                 generator: Any = None) -> list[Subset[T_co]]:
    """Split into non-overlapping Subsets of the given lengths (ints, or fractions summing to 1).

    The permutation comes from ``generator`` (a ``numpy.random.Generator``), else from chainrule's
    global generator (``cr.manual_seed`` fixes it).
    """
    from chainrule.data.sampler import as_generator

    n = len(dataset)  # type: ignore[arg-type]
    sizes = split_lengths(n, lengths)
    if sum(sizes) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = as_generator(generator).permutation(n).tolist()
    bounds = np.cumsum([0, *sizes]).tolist()
    return [Subset(dataset, perm[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
