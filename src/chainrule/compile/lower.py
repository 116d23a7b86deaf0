"""Lowering a recorded tape to one generated Python function: the replay's hot path.

Once a step is recorded, its entries become straight-line code over a list of slots ``v``:

- The forward and vjp of simple ops (add, sub, mul of equal shapes, tanh, relu, 2-D linear, all
  of one float dtype) are written out as the NumPy expressions their rules evaluate, in the same
  order and so with the same bits, with no Context and no rule dispatch. Their large results
  (``BUFFER_BYTES`` and up) go with ``out=`` into buffers the tape keeps between replays.
- Other ops call their recorded ``forward``/``vjp`` on ndarrays with their Context; library calls
  (optimizer loop, random draws, batch statistics) go through ``tape.side_entry``.
- Cotangents reaching a value from several consumers are summed into a new array (a buffer of the
  tape when large) at the second contribution and in place from the third: the tape proves nobody
  else holds that sum until every contribution is in (backward visits a value only after all of
  its consumers), and the dtypes and shapes match, so the bits are those of eager's ``a + b``.

A buffer is reused only while the tape is its only holder (``sys.getrefcount``): a result the step
returned, a ``.grad`` the user kept, a value a retained graph saved all keep their array, and the
replay writes into a new one instead. Reuse never changes a value anyone can see.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import numpy as np

from chainrule.compile import tape as T

BUFFER_BYTES = 1 << 15  # smaller results are allocated afresh: malloc beats a kwarg and a check

_getrefcount = sys.getrefcount
_empty_like = np.empty_like


def fresh(cell: list) -> np.ndarray:
    """The cell's buffer when only the tape holds it, else a new one put in its place."""
    b = cell[0]
    if _getrefcount(b) > 3:  # the cell, b, the argument
        b = cell[0] = _empty_like(b)
    return b


class _Program:
    """Source lines and the names they refer to."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta
        self.lines: list[Any] = []  # code on slots v[i], or side entries (see side())
        self.ns: dict[str, Any] = {"fresh": fresh, "side": T.side_entry, "BAIL": T.BAIL,
                                   "nd": np.ndarray, "asarray": np.asarray}
        for f in ("add", "subtract", "multiply", "negative", "tanh", "maximum", "greater",
                  "matmul"):
            self.ns[f"np_{f}"] = getattr(np, f)
        self.first: dict[int, Any] = {}  # slot -> meta of its first cotangent
        self.mode: dict[int, str] = {}  # slot -> how its last cotangent arrived

    def name(self, value: Any, prefix: str = "K") -> str:
        n = f"{prefix}{len(self.ns)}"
        self.ns[n] = value
        return n

    def out(self, slot: int, shape: Any = None, dtype: Any = None) -> str:
        """', out=fresh(cell)' for a large result of this slot's shape, else ''."""
        shape, dtype = (self.meta[slot] if shape is None else (shape, dtype))
        if int(np.prod(shape)) * np.dtype(dtype).itemsize < BUFFER_BYTES:
            return ""
        return f", out=fresh({self.name([np.empty(shape, dtype)], 'B')})"

    def route(self, routes: tuple, metas: tuple, gins: list[str], maybe_none: bool) -> None:
        """Lines putting cotangent expressions gins[i] in their slots."""
        for (i, d, add), m in zip(routes, metas):
            g = gins[i]
            lines = []
            if not add:
                self.first[d] = m
                mode = "store"
                lines.append(f"v[{d}] = {g}")
            elif m is None or m != self.first[d] or m[1].kind != "f":
                mode = "fallback"
                lines.append(f"v[{d}] = v[{d}] + {g}")
            elif self.mode.get(d) in ("sum", "add"):
                mode = "add"
                lines.append(f"v[{d}] += {g}")  # in place: the sum is the tape's own array
            elif self.mode.get(d) == "store":
                mode = "sum"
                out = self.out(d, *m)
                lines.append(f"v[{d}] = np_add(v[{d}], {g}{out})" if out else
                             f"v[{d}] = v[{d}] + {g}")
            else:
                mode = "fallback"
                lines.append(f"v[{d}] = v[{d}] + {g}")
            # a sum that may be skipped (a rule returning None) proves nothing for the next
            self.mode[d] = "fallback" if maybe_none and mode == "sum" else mode
            if maybe_none and mode != "store":  # a None stored is what a slot held before
                self.lines.append(f"if {g} is not None:")
                self.lines += ["    " + line for line in lines]
            else:
                self.lines += lines


    def side(self, e: tuple, bail: bool = False) -> None:
        """A call of tape.side_entry, with the slots it reads and writes."""
        kind = e[0]
        reads: list[int] = []
        writes: tuple = ()
        if kind is T.NP:
            reads, writes = [s for _, s in e[3]], e[5]
        elif kind is T.LEAF:
            reads = [e[2]]
        elif kind is T.ROOT:
            reads, writes = [e[1]], (e[2],)
        elif kind is T.COEF:
            reads, writes = [e[4]], (e[5],)
        self.lines.append(("side", f"side({self.name(e, 'E')}, V, seen)", bail, reads, writes))

    def source(self, inputs: set[int], outputs: set[int]) -> str:
        """The function's source. Slots become local variables s<i>: the list V (the replay's
        slots) is read for the inputs, and written only where side entries and the outputs
        read it."""
        used: set[int] = set()
        for line in self.lines:
            if isinstance(line, str):
                used.update(int(n) for n in _SLOT.findall(line))
        defined = used & inputs
        body = [f"s{i} = V[{i}]" for i in sorted(defined)]
        for line in self.lines:
            if isinstance(line, str):
                m = _TARGET.match(line)
                if m:
                    defined.add(int(m.group(1)))
                body.append(_SLOT.sub(r"s\1", line))
                continue
            _, call, bail, reads, writes = line
            body += [f"V[{i}] = s{i}" for i in reads if i in defined]
            if bail:
                body += [f"if {call} is BAIL:", "    return BAIL"]
            else:
                body.append(call)
            body += [f"s{i} = V[{i}]" for i in writes]
            defined.update(writes)
        body += [f"V[{i}] = s{i}" for i in sorted(outputs & defined)]
        body = _drop_dead(body)
        body.append("return None")
        return "def run(V, seen):\n" + "".join(f"    {line}\n" for line in body)


def _drop_dead(body: list[str]) -> list[str]:
    """body with ``del s<i>`` after each local's last use (at the top level): NumPy then reuses
    the memory of dead intermediates, as hand-written code that lets them go does."""
    last: dict[str, int] = {}
    for k, line in enumerate(body):
        for n in _LOCAL.findall(line):
            last[n] = k
    dead: dict[int, list[str]] = {}
    for n, k in last.items():
        if not body[k].startswith(" "):
            dead.setdefault(k, []).append(n)
    out = []
    for k, line in enumerate(body):
        out.append(line)
        if k in dead:
            out.append("del " + ", ".join(dead[k]))
    return out


_SLOT = re.compile(r"\bv\[(\d+)\]")
_LOCAL = re.compile(r"\bs\d+\b")
_TARGET = re.compile(r"^\s*v\[(\d+)\] \+?=")


def build(entries: list, ops: dict, meta: dict, inputs: set[int], outputs: set[int]
          ) -> tuple[Any, str]:
    """The replay function ``run(V, seen)`` of these entries (BAIL when a value guard fails), and
    its source. inputs: the slots holding values when it starts; outputs: the slots read after."""
    p = _Program(meta)
    vjp_of = {id(e[2]): e for e in entries if e[0] is T.VJP}
    spares = [e[3] for e in entries if e[0] is T.LEAF]
    lowered: dict[int, Any] = {}
    for e in entries:
        kind = e[0]
        if kind in (T.FWD1, T.FWD2, T.FWD):
            ctx = e[2]
            emit = _lowering(ops[id(ctx)], meta, vjp_of.get(id(ctx)))
            if emit is not None:
                emit[0](p)
                lowered[id(ctx)] = emit[1]
            else:
                _generic_forward(p, e)
        elif kind is T.VJP:
            emit_vjp = lowered.get(id(e[2]))
            if emit_vjp is not None:
                emit_vjp(p, e)
            else:
                _generic_vjp(p, e)
        elif kind is T.ROOT:
            p.side((T.ROOT, e[1], e[2], spares))
        else:
            p.side(e, kind is T.COEF)
    src = p.source(inputs, outputs)
    exec(compile(src, "<cr.compile tape>", "exec"), p.ns)  # our own generated code
    return p.ns["run"], src


def _generic_forward(p: _Program, e: tuple) -> None:
    kind, fwd, ctx = e[:3]
    f, c = p.name(fwd, "F"), p.name(ctx, "C")
    if kind is T.FWD2:
        args = f"v[{e[3]}], v[{e[4]}]"
    elif kind is T.FWD1:
        args = f"v[{e[3]}]"
    else:
        params: list[str] = [p.name(q, "P") for q in e[4]]
        for j, s in e[5]:
            params[j] = f"v[{s}]"
        args = ", ".join([f"v[{i}]" for i in e[3]] + params)
    p.lines.append(f"r = {f}({c}, {args})")
    p.lines.append(f"v[{e[-1]}] = r if type(r) is nd else asarray(r)")


def _generic_vjp(p: _Program, e: tuple) -> None:
    f, c = p.name(e[1], "F"), p.name(e[2], "C")
    p.lines.append(f"gs = {f}({c}, v[{e[3]}])")
    p.lines.append("if type(gs) is not tuple:")
    p.lines.append("    gs = (gs,)")
    n = max((r[0] for r in e[4]), default=-1) + 1
    gins = [f"g{i}" for i in range(n)]
    for i, _, _ in e[4]:
        p.lines.append(f"g{i} = gs[{i}]")
    p.route(e[4], e[6], gins, True)
    if e[5]:
        p.lines.append(f"{c}.saved = ()")


# ----- the ops the lowering knows -----
def _float_same(meta: dict, slots: tuple) -> bool:
    dts = {meta[s][1] if s in meta else None for s in slots}
    if len(dts) != 1:
        return False
    dt = dts.pop()
    return dt is not None and dt.kind == "f"


def _lowering(op: tuple, meta: dict, v: Any) -> tuple[Any, Any] | None:
    """(emit forward, emit vjp) for an op the lowering knows, else None."""
    cls, ins, params, y = op
    name = getattr(cls, "name", "")
    if v is not None and (not v[5] or meta.get(v[3]) != meta.get(y)):
        return None  # a retained graph (its Context keeps its values), a batched cotangent
    if params or y not in meta or not _float_same(meta, (*ins, y)):
        return None
    if name in ("add", "sub", "mul") and len(ins) == 2:
        if meta[ins[0]][0] == meta[ins[1]][0] == meta[y][0]:
            return _binary(name, ins, y)
    elif name in ("tanh", "relu") and len(ins) == 1:
        return _unary(name, ins[0], y)
    elif name == "linear" and len(ins) in (2, 3):
        xs, ws = meta[ins[0]][0], meta[ins[1]][0]
        if (len(xs) == 2 and len(ws) == 2 and xs[1] == ws[1]
                and (len(ins) == 2 or meta[ins[2]][0] == (ws[0],))):
            return _linear(ins, y)
    return None


def _needs(e: tuple) -> set[int]:
    return {r[0] for r in e[4]}


def _binary(name: str, ins: tuple, y: int) -> tuple[Any, Any]:
    a, b = ins
    ufunc = {"add": "np_add", "sub": "np_subtract", "mul": "np_multiply"}[name]
    op = {"add": "+", "sub": "-", "mul": "*"}[name]

    def fwd(p: _Program) -> None:
        out = p.out(y)
        p.lines.append(f"v[{y}] = {ufunc}(v[{a}], v[{b}]{out})" if out else
                       f"v[{y}] = v[{a}] {op} v[{b}]")

    def vjp(p: _Program, e: tuple) -> None:  # Add: (g, g); Sub: (g, -g); Mul: (g*b, g*a)
        need = _needs(e)
        g = f"v[{e[3]}]"
        gins = [g, g]
        if name == "sub" and 1 in need:
            out = p.out(b)
            p.lines.append(f"gb = np_negative({g}{out})" if out else f"gb = -{g}")
            gins[1] = "gb"
        elif name == "mul":
            for i, other in ((0, b), (1, a)):
                if i in need:
                    out = p.out(ins[i])
                    p.lines.append(f"g{i} = np_multiply({g}, v[{other}]{out})" if out else
                                   f"g{i} = {g} * v[{other}]")
                    gins[i] = f"g{i}"
        p.route(e[4], e[6], gins, False)

    return fwd, vjp


def _unary(name: str, x: int, y: int) -> tuple[Any, Any]:
    def fwd(p: _Program) -> None:
        out = p.out(y)
        if name == "tanh":
            p.lines.append(f"v[{y}] = np_tanh(v[{x}]{out})")
        else:  # np.maximum(x, 0 of its dtype), as Relu's forward
            zero = p.name(p.meta[x][1].type(0), "Z")
            p.lines.append(f"v[{y}] = np_maximum(v[{x}], {zero}{out})")

    def vjp(p: _Program, e: tuple) -> None:
        g = f"v[{e[3]}]"
        out = p.out(x)
        if name == "tanh":  # g * (1 - y*y), as Tanh's rule
            if out:
                p.lines.append(f"t = np_multiply(v[{y}], v[{y}]{out})")
                p.lines.append("np_subtract(1, t, out=t)")
                p.lines.append(f"gx = np_multiply({g}, t, out=t)")
            else:
                p.lines.append(f"gx = {g} * (1 - v[{y}] * v[{y}])")
        elif out:  # g * (x > 0), as Relu's rule
            mask = p.out(x, p.meta[x][0], np.bool_) or ""
            p.lines.append(f"gx = np_multiply({g}, np_greater(v[{x}], 0{mask}){out})")
        else:
            p.lines.append(f"gx = {g} * (v[{x}] > 0)")
        p.route(e[4], e[6], ["gx"], False)

    return fwd, vjp


def _linear(ins: tuple, y: int) -> tuple[Any, Any]:
    x, w = ins[:2]

    def fwd(p: _Program) -> None:  # x @ w.T, then += b, as Linear's forward
        out = p.out(y)
        p.lines.append(f"t = np_matmul(v[{x}], v[{w}].T{out})" if out else
                       f"t = v[{x}] @ v[{w}].T")
        if len(ins) == 3:
            p.lines.append(f"t += v[{ins[2]}]")
        p.lines.append(f"v[{y}] = t")

    def vjp(p: _Program, e: tuple) -> None:  # g @ w, g.T @ x, g summed over samples
        need = _needs(e)
        g = f"v[{e[3]}]"
        gins = ["None"] * len(ins)
        for i, expr in ((0, f"np_matmul({g}, v[{w}]{{}})"), (1, f"np_matmul({g}.T, v[{x}]{{}})"),
                        (2, f"{g}.sum(axis=(-2,){{}})")):
            if i in need:
                p.lines.append(f"g{i} = " + expr.format(p.out(ins[i])))
                gins[i] = f"g{i}"
        p.route(e[4], e[6], gins, False)

    return fwd, vjp
