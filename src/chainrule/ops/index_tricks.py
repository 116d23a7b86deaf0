"""np.r_ and np.c_ for tensors: concatenation by indexing syntax, differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops.shape import concatenate, reshape
from chainrule.tensor import Tensor, as_operand


class _Concat:
    """``r_[a, b, 1:4]`` joins along axis 0 (1-d pieces); ``c_`` joins columns (axis -1, 2-d)."""

    def __init__(self, columns: bool) -> None:
        self.columns = columns

    def __getitem__(self, key: Any) -> Tensor:
        items = key if isinstance(key, tuple) else (key,)
        pieces = []
        for item in items:
            if isinstance(item, slice):
                step = item.step if item.step is not None else 1
                if isinstance(step, complex):  # np.r_[0:1:5j]: five points, both ends
                    piece = Tensor(np.linspace(item.start or 0, item.stop, int(abs(step))))
                else:
                    piece = Tensor(np.arange(item.start or 0, item.stop, step))
            elif isinstance(item, str):
                raise ValueError(f"{'c_' if self.columns else 'r_'}: directive strings such as "
                                 f"{item!r} are not supported")
            else:
                piece = as_operand(item)
            if piece.ndim == 0:
                piece = reshape(piece, (1,))
            if self.columns and piece.ndim == 1:
                piece = reshape(piece, (-1, 1))
            pieces.append(piece)
        return concatenate(pieces, axis=-1 if self.columns else 0)


r_ = _Concat(columns=False)
c_ = _Concat(columns=True)
