"""torch's functions with torch's semantics, over chainrule's ops.

Most are the Tensor's PyTorch-dialect method called on the first argument (``torch.max(x, 1)``
is ``x.max(1)``: values and indices); the rest map torch's arguments onto a ``cr.`` function.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.backend import like
from chainrule.ops import elementwise as E
from chainrule.ops import indexing as I
from chainrule.ops import shape as S
from chainrule.tensor import Tensor

# torch.f(input, *args) == input.f(*args): the Tensor method already has torch's semantics.
METHOD_FUNCTIONS = (
    "abs", "absolute", "add", "addcdiv", "addcmul", "all", "allclose", "amax", "amin", "any",
    "argmax", "argmin", "argsort", "bmm", "ceil", "chunk", "clamp", "clamp_max", "clamp_min",
    "clone", "cos", "count_nonzero", "cumsum", "detach", "div", "divide", "dot", "eq", "equal",
    "exp", "flip", "floor", "gather", "ge", "greater", "greater_equal", "gt", "index_select",
    "isfinite",
    "isinf", "isnan", "le", "lerp", "less", "less_equal", "log", "log10", "log1p", "log2",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "lt",
    "masked_fill", "masked_select", "matmul", "max", "mean", "min", "mm", "mul", "multiply",
    "mv", "narrow", "ne", "neg", "negative", "nonzero", "norm", "numel", "outer", "permute",
    "pow", "prod", "reciprocal", "relu", "round", "rsqrt", "scatter", "scatter_add", "select",
    "sigmoid", "sign", "sin", "softmax", "sort", "split", "sqrt", "square", "std", "sub",
    "subtract", "sum", "swapaxes", "swapdims", "t", "tan", "tanh", "topk", "transpose",
    "true_divide", "trunc", "unbind", "unflatten", "unsqueeze", "var",
)


def as_input(x: Any) -> Tensor:
    """x as a Tensor (numbers and arrays wrapped, as torch's functions accept tensors)."""
    if isinstance(x, Tensor) or getattr(x, "is_sparse", False) is True:
        return x
    return cr.tensor(x)


def _method_function(name: str) -> Any:
    def fn(input: Any, *args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is not None:
            raise TypeError(f"torch.{name}: out= is not supported by chainrule.torch")
        return getattr(as_input(input), name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}(input, ...): input.{name}(...) (torch's semantics)."
    return fn


globals().update({name: _method_function(name) for name in METHOD_FUNCTIONS})
clip = _method_function("clamp")  # torch.clip is clamp (min=, max=)

__all__ = [
    *METHOD_FUNCTIONS, "broadcast_tensors", "broadcast_to", "cat", "clip", "concat",
    "concatenate", "diag", "diag_embed", "diagonal", "einsum", "flatten", "hstack", "is_nonzero",
    "is_tensor", "isclose", "maximum", "meshgrid", "minimum", "reshape", "squeeze", "stack",
    "trace", "tril", "triu", "unique", "vstack", "where",
]


# ----- joining, reshaping -----
def cat(tensors: Any, dim: int = 0, *, axis: Any = None, out: Any = None) -> Tensor:
    """Join tensors along dim (empty 1-D tensors are skipped, as torch's legacy rule)."""
    ts = [t for t in tensors if not (isinstance(t, Tensor) and t.shape == (0,))] or list(tensors)
    return S.concatenate(ts, dim if axis is None else axis)


concat = concatenate = cat


def stack(tensors: Any, dim: int = 0, *, out: Any = None) -> Tensor:
    """Join tensors along a new axis dim."""
    return S.stack(list(tensors), dim)


def _row_stack(name: str, axis: int, nd: int) -> Any:
    def fn(tensors: Any, *, out: Any = None) -> Tensor:
        ts = [as_input(t) for t in tensors]
        ts = [S.reshape(t, (1,) * (nd - t.ndim) + t.shape) if t.ndim < nd else t for t in ts]
        ax = 0 if name == "hstack" and ts[0].ndim == 1 else axis
        return S.concatenate(ts, ax)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}: join along axis {axis} (1-D inputs promoted)."
    return fn


vstack = _row_stack("vstack", 0, 2)
hstack = _row_stack("hstack", 1, 1)


def reshape(input: Any, shape: Any) -> Tensor:
    """input with a new shape (-1 inferred)."""
    return as_input(input).reshape(shape)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim."""
    return S.flatten(as_input(input), start_dim, end_dim)


def squeeze(input: Any, dim: Any = None) -> Tensor:
    """Remove axes of length 1 (those in dim; a dim of another length is left, as torch)."""
    x = as_input(input)
    if dim is None:
        return S.squeeze(x)
    dims = (dim,) if isinstance(dim, builtins.int | np.integer) else tuple(dim)
    keep = tuple(d % builtins.max(x.ndim, 1) for d in dims if x.ndim and x.shape[d] == 1)
    return S.squeeze(x, keep) if keep else x


def broadcast_to(input: Any, size: Any) -> Tensor:
    """input broadcast to size (-1 keeps a size)."""
    return as_input(input).expand(*size)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape."""
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(S.broadcast_to(as_input(t), shape) for t in tensors)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors ('ij' or 'xy' indexing)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    ts = [as_input(t) for t in tensors]
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [S.broadcast_to(S.reshape(t, tuple(-1 if j == i else 1 for j in range(n))), shape)
             for i, t in enumerate(ts)]
    if indexing == "xy" and n >= 2:  # 'ij' grids of (y, x, ...), handed back as (x, y, ...)
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation; operands as arguments or one list."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    return cr.einsum(equation, *operands)


# ----- selection -----
def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """input where condition else other; one argument: the indices of the true entries."""
    if input is None and other is None:
        return as_input(condition).nonzero(as_tuple=True)
    return E.where(condition, input, other)


def _tri_mask(x: Tensor, diagonal: int, lower: bool) -> np.ndarray:
    r, c = x.shape[-2:]
    return np.tri(r, c, diagonal, dtype=np.bool_) if lower else ~np.tri(r, c, diagonal - 1,
                                                                        dtype=np.bool_)


def tril(input: Any, diagonal: int = 0, *, out: Any = None) -> Tensor:
    """The lower triangle (on and below diagonal) of the last two axes; zeros elsewhere."""
    x = as_input(input)
    return E.where(_tri_mask(x, diagonal, True), x, np.zeros((), x.dtype))


def triu(input: Any, diagonal: int = 0, *, out: Any = None) -> Tensor:
    """The upper triangle (on and above diagonal) of the last two axes; zeros elsewhere."""
    x = as_input(input)
    return E.where(_tri_mask(x, diagonal, False), x, np.zeros((), x.dtype))


def _diag_index(rows: int, cols: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(rows)
    j = i + offset
    ok = (j >= 0) & (j < cols)
    return i[ok], j[ok]


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of axes dim1, dim2 (moved last), differentiable."""
    x = as_input(input)
    d1, d2 = dim1 % x.ndim, dim2 % x.ndim
    moved = S.transpose(x, (*(d for d in range(x.ndim) if d not in (d1, d2)), d1, d2))
    i, j = _diag_index(*moved.shape[-2:], offset)
    return I.getitem(moved, (Ellipsis, i, j))


def diag(input: Any, diagonal: int = 0) -> Tensor:
    """1-D: the square matrix with input on a diagonal; 2-D: that diagonal."""
    x = as_input(input)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if x.ndim != 1:
        raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got {x.ndim}-D")
    n = x.shape[0] + builtins.abs(diagonal)
    i, j = _diag_index(n, n, diagonal)
    return I.index_put(cr.zeros((n, n), dtype=x.dtype), (i, j), x)


def diag_embed(input: Any, offset: int = 0) -> Tensor:
    """Matrices (in the last two axes) with input's last axis on a diagonal."""
    x = as_input(input)
    n = x.shape[-1] + builtins.abs(offset)
    i, j = _diag_index(n, n, offset)
    return I.index_put(cr.zeros((*x.shape[:-1], n, n), dtype=x.dtype), (Ellipsis, i, j), x)


def trace(input: Any) -> Tensor:
    """Sum of the main diagonal of a matrix."""
    return cr.sum(globals()["diagonal"](as_input(input)))


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum."""
    return E.maximum(input, other)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum."""
    return E.minimum(input, other)


def isclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Elementwise closeness (a bool tensor), on input's device."""
    a = as_input(input)._data
    b = like(other._data if isinstance(other, Tensor) else np.asarray(other), a)
    return Tensor._make(np.isclose(a, b, rtol, atol, equal_nan), False, None)


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: Any = None) -> Any:
    """The sorted distinct values (with inverse indices and counts when asked)."""
    x = as_input(input)
    res = np.unique(x._data, return_inverse=return_inverse, return_counts=return_counts,
                    axis=dim)
    if not isinstance(res, tuple):
        return Tensor._make(res, False, None)
    vals, *rest = res
    if return_inverse:
        rest[0] = rest[0].reshape(x.shape if dim is None else -1)
    return (Tensor._make(vals, False, None),
            *(Tensor._make(r.astype(np.int64), False, None) for r in rest))


def is_tensor(obj: Any) -> builtins.bool:
    """Whether obj is a Tensor."""
    return isinstance(obj, Tensor)


def is_nonzero(input: Any) -> builtins.bool:
    """The truth of a one-element tensor."""
    return builtins.bool(as_input(input))
