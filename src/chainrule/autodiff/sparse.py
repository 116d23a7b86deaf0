"""Cotangents that are zero but at an index (a slice's, a split piece's, one gate's), kept sparse.

A first-order backward never materialises them one by one: the reverse pass makes one buffer per
parent (on its first contribution) and adds each of them into it in place (``reverse._sum``).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend as B


class IndexedCotangent:
    """zeros(shape) with ``values`` added at ``idx`` (repeated advanced indices accumulating, as
    np.add.at); ``basic`` says idx is a basic index (ints, slices, None, Ellipsis), whose
    positions are distinct."""

    __slots__ = ("basic", "idx", "shape", "values")

    def __init__(self, values: Any, shape: tuple, idx: tuple, basic: bool) -> None:
        self.values = values
        self.shape = shape
        self.idx = idx
        self.basic = basic

    def dense(self) -> Any:
        """A new array (C-contiguous, in values' namespace): the cotangent materialised."""
        out = B.zeros(self.shape, self.values.dtype, self.values)
        if self.basic:
            out[self.idx] = self.values
        else:
            B.scatter_add(out, self.idx, self.values)
        return out

    def add_into(self, buf: Any) -> None:
        """buf += this cotangent, in place (buf: an array of this shape that the caller owns)."""
        if self.basic:
            buf[self.idx] += self.values
        else:
            B.scatter_add(buf, self.idx, self.values)
