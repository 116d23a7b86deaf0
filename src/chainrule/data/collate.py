"""Collation as torch.utils.data's: samples into batches, and the fetchers that apply it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

import numpy as np

from chainrule.backend import asarray
from chainrule.data.dataset import Subset, TensorDataset
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
        arrays = [asarray(x._data if isinstance(x, Tensor) else x) for x in batch]
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


def default_convert(data: Any) -> Any:
    """One sample as it comes when batching is off (``batch_size=None``): arrays become Tensors,
    recursing into dicts and sequences (plain tuples become lists, as PyTorch's)."""
    if isinstance(data, np.ndarray | np.generic) and data.dtype.kind not in "SUO":
        return Tensor(np.asarray(data))
    if isinstance(data, Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, Sequence) and not isinstance(data, str | bytes | Tensor):
        return [default_convert(d) for d in data]
    return data


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


def gather(dataset: Any, indices: Sequence[int] | np.ndarray) -> tuple[Tensor, ...] | None:
    """The batch at indices by fancy indexing whole arrays (through Subsets), else None."""
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        return gather(dataset.dataset, dataset.positions()[np.asarray(indices, dtype=np.int64)])
    arrays = _whole_arrays(dataset)
    if arrays is None:
        return None
    index = np.asarray(indices, dtype=np.int64)  # fancy indexing copies: batches never alias
    return tuple(Tensor(a[index]) for a in arrays)


def fetch_map(dataset: Any, indices: Any, auto_collation: bool,
              collate_fn: Callable[[Any], Any]) -> Any:
    """The batch at a list of indices (or, without auto-collation, the sample at one index)."""
    if not auto_collation:
        return collate_fn(dataset[indices])
    if collate_fn is default_collate:
        batch = gather(dataset, indices)
        if batch is not None:
            return batch
    getitems = getattr(dataset, "__getitems__", None)
    samples = getitems(indices) if getitems is not None else [dataset[int(i)] for i in indices]
    return collate_fn(samples)


class IterableFetcher:
    """Batches from one pass over an iterable dataset; ``fetch()`` raises StopIteration at end."""

    def __init__(self, dataset: Iterable[Any], auto_collation: bool,
                 collate_fn: Callable[[Any], Any], batch_size: int | None,
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last

    def fetch(self) -> Any:
        """The next batch (or sample, without auto-collation)."""
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = list(islice(self.iterator, self.batch_size))
        if not samples or (self.drop_last and len(samples) < (self.batch_size or 0)):
            raise StopIteration
        return self.collate_fn(samples)
