"""Tensor factories and the global random generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.dtypes import as_array, get_default_dtype
from chainrule.tensor import Tensor

_rng: np.random.Generator | None = None  # made on first use: numpy.random costs ~20 ms to import


def manual_seed(seed: int) -> None:
    """Seed the global generator used by the random factories (and nn initializers)."""
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    """The global generator (seeded from the OS until manual_seed is called)."""
    global _rng
    if _rng is None:
        _rng = np.random.default_rng()
    return _rng


def get_rng_state() -> dict:
    """The global generator's state (a JSON-able dict), for checkpoints."""
    return default_rng().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state saved by get_rng_state."""
    default_rng().bit_generator.state = state


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor; ndarrays keep their dtype, Python floats take the default float dtype."""
    if isinstance(data, Tensor):
        data = data._data.copy()
    return Tensor(as_array(data, dtype), requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """data as a Tensor, sharing memory where possible."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    return Tensor(as_array(data._data if isinstance(data, Tensor) else data, dtype))


def _shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _dt(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else dtype


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_shape(shape), _dt(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), _dt(dtype)), requires_grad=requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor."""
    return Tensor(np.empty(_shape(shape), _dt(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with fill_value."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = np.asarray(fill_value).dtype if not isinstance(fill_value, float) else None
    return Tensor(np.full(shape, fill_value, _dt(dtype)), requires_grad=requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with x's shape and dtype."""
    return Tensor(np.zeros_like(np.asarray(x), dtype=dtype), requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with x's shape and dtype."""
    return Tensor(np.ones_like(np.asarray(x), dtype=dtype), requires_grad=requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop), as np.arange (floats take the default dtype)."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None and arr.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(arr if dtype is None else arr.astype(dtype))


def linspace(start: float, stop: float, num: int = 50, dtype: Any = None) -> Tensor:
    """num evenly spaced values from start to stop inclusive."""
    return Tensor(np.linspace(start, stop, num, dtype=_dt(dtype)))


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    """Identity matrix."""
    return Tensor(np.eye(n, m, dtype=_dt(dtype)))


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          rng: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples."""
    g = rng or default_rng()
    return Tensor(g.standard_normal(_shape(shape), dtype=_dt(dtype)), requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         rng: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1)."""
    g = rng or default_rng()
    return Tensor(g.random(_shape(shape), dtype=_dt(dtype)), requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = np.int64,
            rng: np.random.Generator | None = None) -> Tensor:
    """Random integers in [low, high) (in [0, low) when high is None)."""
    g = rng or default_rng()
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(g.integers(low, high, size=size, dtype=dtype))
