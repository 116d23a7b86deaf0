"""torch.sparse: COO sparse tensors' products (chainrule.sparse)."""

from __future__ import annotations

from typing import Any

from chainrule.sparse import SparseTensor, spmm
from chainrule.tensor import Tensor
from chainrule.torch._missing import namespace_getattr

__all__ = ["mm", "sum"]


def mm(mat1: Any, mat2: Any) -> Tensor:
    """Sparse @ dense (or dense @ sparse), differentiable in the dense operand and the values."""
    if isinstance(mat1, SparseTensor):
        return spmm(mat1, mat2)
    return mat2.__rmatmul__(mat1)


def sum(input: Any, dim: Any = None) -> Tensor:
    """Sum of a sparse tensor's entries (over dim), as a dense tensor."""
    dense = input.to_dense()
    return dense.sum() if dim is None else dense.sum(dim)


__getattr__ = namespace_getattr(__name__)
