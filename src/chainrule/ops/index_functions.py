"""NumPy's index functions: searchsorted, unique, digitize, flatnonzero, unravel_index and
bincount. Their results are indices and counts outside the graph (through ``values``, so
cr.compile replays them); bincount's weighted sums are differentiable in the weights."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import values
from chainrule.dtypes import get_default_dtype
from chainrule.ops.comparison import on_one_device
from chainrule.ops.elementwise import astype
from chainrule.ops.indexing import Scatter
from chainrule.tensor import Tensor, as_operand


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _named(name: str, fn: Any, *args: Any) -> Tensor:
    """values(fn, *args), NumPy's ValueError and TypeError naming the function."""
    try:
        return values(fn, *args)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{name}: {e}") from None


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Tensor:
    """Where v's entries would go in the sorted 1-D a to keep it sorted (np.searchsorted):
    int64 indices of v's shape."""
    if sorter is None:
        return _named("searchsorted", partial(np.searchsorted, side=side),
                      *on_one_device(a, v))
    return _named("searchsorted", partial(_searchsorted, side=side),
                  *on_one_device(a, v, sorter))


def _searchsorted(a: Any, v: Any, sorter: Any, side: str) -> Any:
    return np.searchsorted(a, v, side, sorter)


def digitize(x: Any, bins: Any, right: bool = False) -> Tensor:
    """The index of the bin of each x (np.digitize; bins increasing or decreasing)."""
    return _named("digitize", partial(np.digitize, right=right), *on_one_device(x, bins))


def flatnonzero(a: Any) -> Tensor:
    """The indices of a's nonzero entries in a flattened (np.flatnonzero): int64, 1-D."""
    return values(np.flatnonzero, a)


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple[Tensor, ...]:
    """The coordinates in an array of the given shape of flat indices (np.unravel_index): one
    int64 Tensor per axis, each of indices' shape."""
    shape = tuple(int(n) for n in (shape if np.ndim(shape) else (shape,)))
    return tuple(_named("unravel_index", partial(_coordinate, shape=shape, order=order, axis=k),
                        indices) for k in range(len(shape)))


def _coordinate(indices: Any, shape: tuple, order: str, axis: int) -> Any:
    return np.unravel_index(indices, shape, order)[axis]


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *,
           equal_nan: bool = True, sorted: bool = True) -> Any:
    """The sorted distinct entries of ar (np.unique; along axis: the distinct slices), and as
    asked the first indices, the inverse indices and the counts: a Tensor, or a tuple of them
    as NumPy. Outside the graph (the values are constants)."""
    wanted = (True, return_index, return_inverse, return_counts)
    parts = [k for k, w in enumerate(wanted) if w]
    fn = partial(np.unique, return_index=return_index, return_inverse=return_inverse,
                 return_counts=return_counts, axis=axis, equal_nan=equal_nan, sorted=sorted)
    if len(parts) == 1:
        return _named("unique", fn, ar)
    return tuple(_named("unique", partial(_part, fn, i), ar) for i in range(len(parts)))


def _part(fn: Any, i: int, *args: Any) -> Any:
    return fn(*args)[i]


def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Tensor:
    """The number of occurrences of each value in the non-negative int 1-D x (np.bincount),
    or with weights the sum of the weights at each value: differentiable in float weights
    (reverse: the cotangent gathered at x; forward: the tangents' bincount). Weighted sums
    are in the weights' float dtype (the default for integer weights)."""
    counts = _named("bincount", partial(np.bincount, minlength=minlength), x)
    if weights is None:
        return counts
    w = _t(weights)
    xv = B.asarray(_raw(x))
    if w.shape != xv.shape:
        raise ValueError(f"bincount: the weights' shape {w.shape} and the list's {xv.shape} "
                         "differ")
    if w.dtype.kind != "f":
        w = astype(w, get_default_dtype())
    return Scatter.apply(w, counts.shape, (xv.astype(np.intp, copy=False),))


INDEX_FUNCTIONS = ("digitize", "flatnonzero", "searchsorted", "unique", "unravel_index")
