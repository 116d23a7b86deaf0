"""The replay's buffers: where a lowered tape writes its large results.

A buffer is a *cell*, a list whose first item is the array the next result goes into. Two kinds:

- An own cell (``own_cell``, filled by ``fresh``) for a result held past the replay (an output,
  a ``.grad``): one array, kept between replays and reused while the tape is its only holder.
- A shared cell (``arena``, filled by ``shared``) for a result that dies within the replay, or
  that becomes a ``.grad`` until a ``zero_grad`` lets go of it. Cells of one shape and dtype
  whose arrays are never live at once are one cell already (lower.py); the cells then get
  offsets in the *arena*, pages of memory where cells never live at once overlap, as a compiler
  lays out a stack frame. The arena needs about what is live at the step's busiest moment, as
  eager's allocator does, where separate arrays would need the sum of every cell.

Reuse never changes a value anyone can see. A cell's array whose holders are not the tape's own
(``sys.getrefcount``: a view of it made by a rule, a value someone kept) is not written again: an
own cell gets a new array, and a shared cell's page is replaced by a new one (the old page lives
on while anyone holds a view of it). For the count to see views, each shared cell's array is a
plain ndarray whose base is a ``Block`` (an ndarray subclass), where NumPy stops collapsing the
base chain of views: a view of the cell's array has that array as its base.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

ALIGN = 64  # bytes: each cell's array starts at a cache line, as malloc's large blocks do

_getrefcount = sys.getrefcount
_empty_like = np.empty_like


class Block(np.ndarray):
    """An arena's memory: views of it are the cells' arrays (see the module's docstring)."""


def own_cell(shape: tuple, dtype: Any) -> list:
    """An own cell, its array made by fresh() at the first replay (when the recording's arrays
    are freed and their memory can serve it): until then it holds a one-element view, twice, so
    that fresh() sees it held and replaces it."""
    b = np.broadcast_to(np.empty((), dtype), shape)
    return [b, b]


def fresh(cell: list) -> np.ndarray:
    """The own cell's array when only the tape holds it, else a new one put in its place."""
    b = cell[0]
    if _getrefcount(b) > 3:  # the cell, b, the argument
        b = cell[0] = _empty_like(b)
    return b


_UNSET = np.empty(0)  # a shared cell's array before the first replay: held here, so renewed


def shared(cell: list) -> np.ndarray:
    """The shared cell's array when nobody but the tape holds it nor any array overlapping it
    in the arena, else the cell's array in a new page. cell: [array, cells overlapping it,
    the arena, its page]."""
    b = cell[0]
    if _getrefcount(b) > 3:  # the cell, b, the argument
        return _renew(cell)
    for c in cell[1]:
        if _getrefcount(c[0]) > 2:  # c, the argument
            return _renew(cell)
    return b


class Arena:
    """Pages of memory (of one size, the largest cell's) for a tape's shared cells, each cell at
    an offset that keeps it inside one page. Pages, not one block: the arena is then made of
    pieces the size of arrays the eager step allocates and frees, which malloc serves from the
    memory the recording let go of, where one large block would need new memory. (Letting go
    of the pages whose cells all die within the replay at its end, as eager lets go of its
    intermediates, measured no lower: malloc then maps them anew each replay.)"""

    __slots__ = ("cells", "nbytes", "page")

    def __init__(self) -> None:
        self.cells: list[list[tuple[list, int, tuple, np.dtype]]] = []  # per page: (cell,
        # offset in the page, shape, dtype)
        self.nbytes = 0
        self.page = 0


def _renew(cell: list) -> np.ndarray:
    """Give every cell of cell's page its array in a new page; cell's array."""
    arena: Arena = cell[2]
    k = cell[3]
    n = min(arena.page, arena.nbytes - k * arena.page)
    raw = np.empty(n + ALIGN, np.uint8)
    lead = -raw.ctypes.data % ALIGN
    page = raw[lead:lead + n].view(Block)
    for c, at, shape, dtype in arena.cells[k]:
        size = int(np.prod(shape)) * dtype.itemsize
        c[0] = page[at:at + size].view(dtype).reshape(shape).view(np.ndarray)
    return cell[0]


def arena(groups: list[tuple[tuple, np.dtype, list[tuple[int, int]]]]
          ) -> tuple[list[list], Arena]:
    """Shared cells for groups (shape, dtype, the line intervals [first, last] in which the
    group's arrays are live), laid out in one arena: two
    cells share bytes only when no interval of one meets an interval of the other. Largest
    first, each at the lowest offset clear of the cells already placed that it meets in time,
    and inside one page."""
    a = Arena()
    sizes = [-(-int(np.prod(g[0])) * g[1].itemsize // ALIGN) * ALIGN for g in groups]
    a.page = max(sizes, default=ALIGN)
    cells: list[list] = [[_UNSET, [], a, 0] for _ in groups]
    placed: list[tuple[int, int, int]] = []  # (offset, end, group)
    order = sorted(range(len(groups)), key=lambda i: (-sizes[i], groups[i][2][0][0]))
    for i in order:
        size = sizes[i]
        busy = [(o, e) for o, e, j in placed if _meet(groups[i][2], groups[j][2])]
        off = 0
        while True:
            if off % a.page + size > a.page:  # it would straddle two pages: the next one
                off += a.page - off % a.page
            clash = [e for o, e in busy if o < off + size and off < e]
            if not clash:
                break
            off = max(clash)
        placed.append((off, off + size, i))
        a.nbytes = max(a.nbytes, off + size)
    pages = -(-a.nbytes // a.page) if groups else 0
    a.cells = [[] for _ in range(pages)]
    for off, end, i in placed:
        shape, dtype, _ = groups[i]
        k, at = divmod(off, a.page)
        cells[i][3] = k
        a.cells[k].append((cells[i], at, shape, dtype))
        cells[i][1] = [cells[j] for o, e, j in placed if j != i and o < end and off < e]
    return cells, a


def _meet(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    """Whether an interval of a meets one of b (both ends included)."""
    return any(k <= m and j <= n for k, n in a for j, m in b)
