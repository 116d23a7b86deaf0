"""NumPy's comparisons, logical functions and predicates (greater, logical_and, isfinite...):
boolean Tensors outside the graph, as the comparison operators give (no derivative exists)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.backend import like, on_device
from chainrule.tensor import Tensor


def _predicate(ufunc: np.ufunc) -> Callable[..., Tensor]:
    def fn(*operands: Any, **kwargs: Any) -> Tensor:
        arrays = [a._data if isinstance(a, Tensor) else a for a in operands]
        dev = next((a for a in arrays if on_device(a)), None)
        if dev is not None:  # host operands (arrays, lists) join a CUDA tensor there
            operands = tuple(like(np.asarray(a), dev) if isinstance(a, np.ndarray | list | tuple)
                             else a for a in operands)
        try:
            return values(partial(ufunc, **kwargs) if kwargs else ufunc, *operands)
        except ValueError as e:
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(f"{ufunc.__name__}: {e} (operand shapes {shapes})") from None

    fn.__name__ = fn.__qualname__ = ufunc.__name__
    fn.__doc__ = f"np.{ufunc.__name__} on Tensors, arrays or numbers: a bool Tensor, no graph."
    return fn


greater = _predicate(np.greater)
greater_equal = _predicate(np.greater_equal)
less = _predicate(np.less)
less_equal = _predicate(np.less_equal)
equal = _predicate(np.equal)
not_equal = _predicate(np.not_equal)
logical_and = _predicate(np.logical_and)
logical_or = _predicate(np.logical_or)
logical_xor = _predicate(np.logical_xor)
logical_not = _predicate(np.logical_not)
isfinite = _predicate(np.isfinite)
isinf = _predicate(np.isinf)
isnan = _predicate(np.isnan)
signbit = _predicate(np.signbit)

PREDICATES = ("equal", "greater", "greater_equal", "isfinite", "isinf", "isnan", "less",
              "less_equal", "logical_and", "logical_not", "logical_or", "logical_xor",
              "not_equal", "signbit")
