"""Where a value the recorder meets comes from: the user's code (a constant of the step, the line
a warning names), library code, or a graph a backward could still use; and the stand-ins that
replace recorded inputs in the graph's nodes."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrule.tensor import Tensor


def user_line() -> tuple[str, int, str]:
    """(file, line, 'file:line') of the innermost frame outside chainrule's package."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename.replace("\\", "/")
        if "/chainrule/" not in name and "/contextlib.py" not in name:
            return f.f_code.co_filename, f.f_lineno, f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>", 0, "<unknown>"


def user_held(a: Any) -> bool:
    """Whether the innermost code outside chainrule holds the array a (or the array it views)
    in a variable (a local, a closure's, a global, an attribute of its ``self``): the user's
    array, a constant of the step, not one library code computed from the step's values."""
    if not isinstance(a, np.ndarray):
        return False
    f = sys._getframe(2)
    while f is not None and "/chainrule/" in f.f_code.co_filename.replace("\\", "/"):
        f = f.f_back
    if f is None:
        return False
    targets = {id(a)} if a.base is None else {id(a), id(a.base)}
    held = [f.f_locals.values(), f.f_globals.values()]
    owner = f.f_locals.get("self")
    if owner is not None and hasattr(owner, "__dict__"):
        held.append(vars(owner).values())
    return any(id(v) in targets for vs in held for v in vs)


# where Tensors are constructed: a frame there is not the code that asked for the Tensor
_CONSTRUCTORS = ("/chainrule/tensor.py", "/chainrule/creation.py", "/chainrule/compile/patches.py",
                 "/chainrule/torch/_factories.py")


def by_library() -> bool:
    """Whether the code that asked for the Tensor being made is chainrule's (library code that
    may have computed its data from the step's values) rather than the user's (a constant of
    the step)."""
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename.replace("\\", "/")
        if "/chainrule/" not in name:
            return False
        if not name.endswith(_CONSTRUCTORS):
            return True
        f = f.f_back
    return False


def backward_possible(node: Any) -> bool:
    """Whether no node of node's graph was freed by a backward (eager could run one through
    it; the replay's output, without a graph, could not)."""
    todo, seen = [node], set()
    while todo:
        n = todo.pop()
        if n.args is None:
            return False
        for a in n.args:
            p = a._node if isinstance(a, Tensor) else None
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                todo.append(p)
    return True


_STUBS: dict[tuple[tuple, np.dtype, bool], Tensor] = {}


def stub(a: Any) -> Any:
    """A stand-in for a recorded input in ctx.args, shared: rules read its requires_grad, and
    a custom autograd.Function's checks its shape and dtype (a broadcast view: no memory)."""
    if not isinstance(a, Tensor):
        return None
    d = a._data
    key = (d.shape, d.dtype, a.requires_grad)
    t = _STUBS.get(key)
    if t is None:
        t = _STUBS[key] = Tensor._make(np.broadcast_to(np.empty((), d.dtype), d.shape),
                                       a.requires_grad, None)
    return t
