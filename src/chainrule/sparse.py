"""Sparse COO tensors: indices and values, multiplied with dense tensors differentiably.

A ``SparseTensor`` holds ``indices`` (ndim, nnz) int64 and a 1-D ``values`` Tensor, as PyTorch's
COO layout (duplicate indices add up). Its products with dense tensors are built from
differentiable ops (a gather of the dense rows, a scatter-add into the output), so gradients
reach the dense operand and the values; ``to_dense()`` and ``+`` with a dense tensor give dense
tensors. Only the operations PyTorch scripts use on graph adjacency matrices are provided.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.device import CPU, as_device
from chainrule.ops import indexing as I
from chainrule.ops import shape as S
from chainrule.tensor import Size, Tensor


class SparseTensor:
    """A COO sparse tensor (PyTorch's ``torch.sparse_coo`` layout)."""

    is_sparse = True
    is_cuda = False
    layout = "sparse_coo"
    __array_priority__ = 100  # ndarray @ SparseTensor defers to SparseTensor.__rmatmul__

    def __init__(self, indices: Any, values: Any, size: Any, coalesced: bool = False) -> None:
        idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(f"sparse_coo_tensor: indices must be a 2-D integer array, got shape "
                             f"{idx.shape} and dtype {idx.dtype}")
        vals = values if isinstance(values, Tensor) else Tensor(values)
        if vals.ndim != 1 or vals.shape[0] != idx.shape[1]:
            raise ValueError(f"sparse_coo_tensor: {idx.shape[1]} indices but values of shape "
                             f"{vals.shape}")
        shape = tuple(int(s) for s in size)
        if idx.shape[0] != len(shape):
            raise ValueError(f"sparse_coo_tensor: indices of {idx.shape[0]} dimensions for a size "
                             f"of {len(shape)}")
        if idx.size and ((idx < 0).any() or (idx.max(axis=1) >= np.asarray(shape)).any()):
            raise ValueError(f"sparse_coo_tensor: an index is out of bounds for size {shape}")
        self._indices = idx.astype(np.int64, copy=False)
        self._values = vals
        self.shape = Size(shape)
        self._coalesced = coalesced

    # ----- attributes -----
    @property
    def dtype(self) -> np.dtype:
        return self._values.dtype

    @property
    def device(self) -> Any:
        return CPU

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def requires_grad(self) -> bool:
        return self._values.requires_grad

    def size(self, dim: int | None = None) -> Any:
        """The shape, or one size."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def indices(self) -> Tensor:
        """The (ndim, nnz) int64 indices."""
        return Tensor(self._indices)

    def values(self) -> Tensor:
        """The nnz values."""
        return self._values

    def _nnz(self) -> int:
        return self._indices.shape[1]

    def is_coalesced(self) -> bool:
        """Whether indices are sorted and unique."""
        return self._coalesced

    def __repr__(self) -> str:
        return (f"tensor(indices={self._indices.tolist()},\n       values={self._values},\n"
                f"       size={tuple(self.shape)}, nnz={self._nnz()}, layout=torch.sparse_coo)")

    # ----- conversions -----
    def coalesce(self) -> SparseTensor:
        """Sorted unique indices, duplicates summed."""
        if self._nnz() == 0:
            return SparseTensor(self._indices, self._values, self.shape, coalesced=True)
        flat = np.ravel_multi_index(tuple(self._indices), self.shape)
        uniq, inverse = np.unique(flat, return_inverse=True)
        summed = I.Scatter.apply(self._values, (len(uniq),), (inverse,))
        return SparseTensor(np.stack(np.unravel_index(uniq, self.shape)), summed, self.shape,
                            coalesced=True)

    def to_dense(self) -> Tensor:
        """The dense tensor (differentiable in the values)."""
        return I.Scatter.apply(self._values, tuple(self.shape), tuple(self._indices))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        dense = self.to_dense()._data
        return dense if dtype is None else dense.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> SparseTensor:
        """``to(device)`` / ``to(dtype)``: the CPU only; a dtype casts the values."""
        from chainrule.ops.methods_convert import parse_to

        dtype, _ = parse_to("to", args, kwargs)
        return self if dtype is None else self.type(dtype)

    def type(self, dtype: Any) -> SparseTensor:
        """The same sparsity with values cast to dtype."""
        from chainrule.ops.methods_convert import cast

        return SparseTensor(self._indices, cast(self._values, dtype), self.shape, self._coalesced)

    def float(self) -> SparseTensor:
        """Values as float32."""
        return self.type(np.float32)

    def double(self) -> SparseTensor:
        """Values as float64."""
        return self.type(np.float64)

    def cpu(self) -> SparseTensor:
        """self."""
        return self

    def t(self) -> SparseTensor:
        """Transpose of a 2-D sparse tensor."""
        if self.ndim != 2:
            raise RuntimeError(f"t: expected a 2-D sparse tensor, got {self.ndim}-D")
        return SparseTensor(self._indices[::-1], self._values, self.shape[::-1])

    def detach(self) -> SparseTensor:
        """The same sparsity with detached values."""
        return SparseTensor(self._indices, self._values.detach(), self.shape, self._coalesced)

    # ----- arithmetic -----
    def mm(self, other: Any) -> Tensor:
        """self @ other for a dense 2-D (or 1-D) other, differentiable in other and the values."""
        return spmm(self, other)

    matmul = mm

    def __matmul__(self, other: Any) -> Any:
        return spmm(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        other = other if isinstance(other, Tensor) else Tensor(other)
        return S.transpose(spmm(self.t(), S.transpose(other, None)), None)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, SparseTensor):
            if other.shape != self.shape:
                raise ValueError(f"add: sparse shapes {tuple(self.shape)} and "
                                 f"{tuple(other.shape)} differ")
            from chainrule.ops.shape import concatenate

            return SparseTensor(np.concatenate([self._indices, other._indices], axis=1),
                                concatenate([self._values, other._values]), self.shape)
        return self.to_dense() + other

    __radd__ = __add__

    def __mul__(self, other: Any) -> SparseTensor:
        if isinstance(other, Tensor) and other.ndim:
            raise NotImplementedError("mul: a sparse tensor times a dense tensor is not supported "
                                      "yet; multiply by a number or call to_dense()")
        return SparseTensor(self._indices, self._values * other, self.shape, self._coalesced)

    __rmul__ = __mul__


def sparse_coo_tensor(indices: Any, values: Any, size: Any = None, *, dtype: Any = None,
                      device: Any = None, requires_grad: bool = False,
                      check_invariants: Any = None, is_coalesced: Any = None) -> SparseTensor:
    """A COO sparse tensor from (ndim, nnz) indices and nnz values (PyTorch's signature)."""
    as_device(device, "sparse_coo_tensor")
    vals = values if isinstance(values, Tensor) else Tensor(values)
    if dtype is not None:
        from chainrule.ops.methods_convert import cast

        vals = cast(vals, dtype)
    if requires_grad:
        vals = vals.detach().requires_grad_(True)
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.size else (0,) * idx.shape[0]
    return SparseTensor(idx, vals, size, coalesced=bool(is_coalesced))


def to_sparse(t: Tensor, sparse_dim: Any = None) -> SparseTensor:
    """The non-zero entries of a dense tensor as a coalesced COO sparse tensor."""
    idx = np.stack(np.nonzero(t._data)) if t.ndim else np.zeros((0, 1), np.int64)
    vals = I.getitem(t, tuple(idx)) if t.ndim else S.reshape(t, (1,))
    return SparseTensor(idx, vals, t.shape, coalesced=True)


def spmm(a: SparseTensor, b: Any) -> Tensor:
    """Sparse (n, k) times dense (k, m) or (k,): out[i] = sum over entries (i, j, v) of v b[j]."""
    if not isinstance(a, SparseTensor):
        raise TypeError(f"spmm: expected a sparse first operand, got {type(a).__name__}")
    b = b if isinstance(b, Tensor) else Tensor(np.asarray(b))
    if a.ndim != 2 or b.ndim not in (1, 2) or a.shape[1] != b.shape[0]:
        raise ValueError(f"spmm: shapes {tuple(a.shape)} (sparse) and {tuple(b.shape)} cannot "
                         "be multiplied")
    rows, cols = a._indices
    vals = a._values
    if vals.dtype != b.dtype:
        from chainrule.ops.methods_convert import cast

        if vals.dtype.kind != "f" or b.dtype.kind == "f":
            vals = cast(vals, b.dtype)
    picked = I.getitem(b, (cols,))  # (nnz, m): the rows of b each entry multiplies
    scale = vals if b.ndim == 1 else S.reshape(vals, (-1, 1))
    out_shape = (a.shape[0], *b.shape[1:])
    return I.Scatter.apply(picked * scale, out_shape, (rows,))
