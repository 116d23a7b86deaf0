"""A recorded step: its entries, guards and slots, and its replay.

Each entry is a tuple whose first element is its kind. Values live in a list of slots: the call's
arguments and the external tensors (parameters, buffers) are read into their slots at the start of
a replay, constants stay where recording put them, and every op output or cotangent is written
into its own slot. The entries are replayed by one function generated from them (lower.py): simple
ops as the NumPy expressions of their rules, other ops by calling their ``forward`` and ``vjp`` on
ndarrays with the recorded Context (so value-dependent work inside a rule, and its saved values,
are computed afresh), cotangents added in the order the backward pass added them, and library calls
(the optimizer's loop on the live optimizer, random draws) through :func:`side_entry`. A replay
creates no Tensor and no graph node, except the Tensors it returns.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrule.autodiff.forward import as_tangent
from chainrule.autodiff.zero import ZERO
from chainrule.compile.buffers import Block
from chainrule.tensor import Tensor

# entry kinds
FWD1, FWD2, FWD, VJP, ROOT, LEAF, CALL, SETNONE, COEF, NP, JVP, FREE, GRAD = range(13)

BAIL = object()  # a replay found a value guard that no longer holds: run the step eagerly


class Tape:
    """One recorded signature of a compiled function: guards, slots, entries, output spec."""

    def __init__(self, template: list, arg_slots: list[tuple[int, int]],
                 externals: list[tuple[Tensor, int, tuple, np.dtype, bool]],
                 modules: list[tuple[Any, bool, tuple]], entries: list[tuple],
                 out_spec: Any, run: Any, source: str,
                 arg_tensors: list[tuple[int, int]] | None = None) -> None:
        self.template = template
        self.arg_slots = arg_slots
        self.externals = externals
        self.modules = modules
        self.entries = entries
        self.out_spec = out_spec
        self.run = run  # the entries as one generated function (lower.py)
        self.source = source
        self.arg_tensors = arg_tensors or []  # (argument index, slot of the Tensor itself)

    def guards_hold(self) -> bool:
        """Whether the modules, parameters and external tensors are those recorded."""
        for m, training, params in self.modules:
            if m.training is not training:
                return False
            now = m._parameters
            if len(now) != len(params):
                return False
            for a, b in zip(now.values(), params):
                if a is not b:
                    return False
        for t, _, shape, dtype, rg in self.externals:
            d = t._data
            if d.shape != shape or d.dtype != dtype or t.requires_grad is not rg:
                return False
        return True

    def replay(self, args: tuple) -> Any:
        """Run the recorded step on new arguments; BAIL when a value guard fails."""
        vals = self.template.copy()
        for i, s in self.arg_slots:
            vals[s] = args[i]._data
        for i, s in self.arg_tensors:
            vals[s] = args[i]
        for ext in self.externals:
            vals[ext[1]] = ext[0]._data
        if self.run(vals, set()) is BAIL:
            return BAIL
        return _outputs(self.out_spec, vals)


def side_entry(e: tuple, vals: list, seen: set[int]) -> Any:
    """Replay an entry that is not an op's forward or vjp (BAIL when a value guard fails)."""
    kind = e[0]
    if kind is NP:
        fn, template, reads, lives, oslots, single = e[1:]
        args = template.copy()
        for i, s in reads:
            args[i] = vals[s]
        for i, get in lives:
            args[i] = get()
        out = fn(*args)
        if single:
            if oslots:
                vals[oslots[0]] = out
        else:
            for s, o in zip(oslots, out):
                vals[s] = o
    elif kind is ROOT:
        vals[e[2]] = np.ones_like(vals[e[1]])
        _free_spares(e[3])
    elif kind is FREE:  # after zero_grad or a .grad = None: the old gradients go now, as eager's
        _free_spares(e[1])
    elif kind is JVP:  # an op's forward-mode rule, as push_tangents calls it
        jvp, ctx, tslots, nb, shape, dtype, oslot = e[1:]
        ctx.batch = nb
        d = jvp(ctx, *[ZERO if s is None else vals[s] for s in tslots])
        vals[oslot] = np.zeros(shape, dtype) if d is ZERO else as_tangent(d, shape, dtype)
    elif kind is LEAF:  # e[1], or an argument's Tensor in slot e[4]
        set_grad(vals[e[4]] if e[1] is None else e[1], vals[e[2]], e[3], seen)
    elif kind is GRAD:  # the step read a .grad: its array as it is now (None: run eagerly)
        g = (vals[e[2]] if e[1] is None else e[1]).grad
        if g is None:
            return BAIL
        vals[e[3]] = g._data
    elif kind is CALL:
        e[1](*e[2])
    elif kind is SETNONE:
        (vals[e[2]] if e[1] is None else e[1]).grad = None
    elif kind is COEF:
        fn, fargs, tpos, tslot, qslot, denom = e[1:]
        fargs = list(fargs)
        fargs[tpos] = vals[tslot]
        q, d = fn(*fargs)
        if d != denom:
            return BAIL
        vals[qslot] = q
    return None


_NOTHING = np.empty(0)


def _free_spares(spares: list) -> None:
    """A spare .grad Tensor (set_grad) that nobody holds any more lets go of its array."""
    for spare in spares:
        t = spare[0]
        if sys.getrefcount(t) <= 3:  # the list, t, getrefcount's argument
            t._data = _NOTHING


def set_grad(leaf: Tensor, g: np.ndarray, spare: list, seen: set[int]) -> None:
    """Accumulate g into leaf.grad as the backward pass does, reusing a spare grad Tensor.

    The spare (a Tensor made at record time) becomes the new .grad when .grad is None and nobody
    else holds the spare any more; otherwise a new Tensor is made, as eager does.
    """
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if g.dtype != leaf._data.dtype:
        g = g.astype(leaf._data.dtype)
    cur = leaf.grad
    if cur is None:
        # an arena's cell (buffers.py) is the tape's own till a FREE entry lets go of it
        if ((not g.flags.owndata and type(g.base) is not Block) or not g.flags.c_contiguous
                or id(g) in seen):
            g = np.array(g, order="C")
        seen.add(id(g))
        t = spare[0]
        if sys.getrefcount(t) > 3:  # the list, t, getrefcount's argument: someone kept it
            t = spare[0] = Tensor._make(g, False, None)
        else:
            t._data = g
        leaf.grad = t
    elif cur._data.shape == g.shape and cur._data.flags.writeable:
        cur._data += g
    else:
        leaf.grad = Tensor._make(cur._data + g, False, None)


def _outputs(spec: Any, vals: list) -> Any:
    """The step's return value rebuilt from the output spec."""
    kind = spec[0]
    if kind == "t":
        return Tensor._make(vals[spec[1]], False, None)
    if kind == "c":
        return spec[1]
    if kind == "g":  # a parameter's .grad, as it is now
        return spec[1].grad
    if kind == "G":  # an argument's .grad
        return vals[spec[1]].grad
    items = [_outputs(s, vals) for s in spec[2]]
    return items if spec[1] is list else tuple(items)
