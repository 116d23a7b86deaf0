"""Dataset (indexable samples) and TensorDataset (samples are rows of equal-length arrays)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from chainrule.tensor import Tensor


class Dataset(ABC):
    """A map-style dataset: ``dataset[i]`` is the i-th sample, ``len(dataset)`` the count."""

    @abstractmethod
    def __getitem__(self, index: int) -> Any:
        """The sample at index."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples."""


class TensorDataset(Dataset):
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
        return tuple(Tensor(np.asarray(a[index])) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({parts})"
