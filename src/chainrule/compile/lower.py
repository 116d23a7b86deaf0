"""Lowering a recorded tape to one generated Python function: the replay's hot path.

Once a step is recorded, its entries become straight-line code over a list of slots ``v``:

- The forward and vjp of simple ops (add, sub, mul with broadcasting, tanh, relu, sigmoid,
  basic slices, 2-D matmul and linear, all of one float dtype: ``kernels.py``) are written out as
  the NumPy expressions their rules evaluate, in the same order and so with the same bits, with
  no Context and no rule dispatch. Their large results (``BUFFER_BYTES`` and up) go with ``out=``
  into buffers the tape keeps between replays.
- Other ops call their recorded ``forward``/``vjp`` on ndarrays with their Context; library calls
  (optimizer loop, random draws, batch statistics) go through ``tape.side_entry``.
- Cotangents reaching a value from several consumers are summed into a new array (a buffer of the
  tape when large) at the second contribution and in place from the third: the tape proves nobody
  else holds that sum until every contribution is in (backward visits a value only after all of
  its consumers), and the dtypes and shapes match, so the bits are those of eager's ``a + b``.
- Slices' cotangents go into one array per parent, as eager's first-order backward adds them
  (``autodiff/sparse.py``): zeros with the first put at its index, the next added in place at
  theirs. When the slices tile the parent (an LSTM's gates) the zero fill is skipped and each
  later part is written as ``0 + g``, the same bits.

Buffers (``buffers.py``) are reused only while the tape is their only holder
(``sys.getrefcount``): a result the step returned, a ``.grad`` the user kept, a value a retained
graph saved all keep their array, and the replay writes into a new one instead. Reuse never
changes a value anyone can see. Those that die within the replay share one block of memory.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from chainrule.compile import tape as T
from chainrule.compile.buffers import arena, fresh, own_cell, shared
from chainrule.compile.kernels import covered, lowering, quiet_exp, slice_index
from chainrule.ops.rules import matmul_t

BUFFER_BYTES = 1 << 15  # smaller results are allocated afresh: malloc beats a kwarg and a check

class _Program:
    """Source lines and the names they refer to."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta
        self.lines: list[Any] = []  # code on slots v[i], or side entries (see side())
        self.ns: dict[str, Any] = {"fresh": fresh, "shared": shared, "side": T.side_entry,
                                   "BAIL": T.BAIL, "nd": np.ndarray, "asarray": np.asarray}
        for f in ("add", "subtract", "multiply", "negative", "tanh", "maximum", "greater",
                  "matmul", "abs", "exp", "divide", "greater_equal", "copyto", "empty",
                  "zeros", "where"):
            self.ns[f"np_{f}"] = getattr(np, f)
        self.ns["slice_add"] = slice_add
        self.ns["matmul_t"] = matmul_t
        self.ns["quiet_exp"] = quiet_exp
        self.ns["release"] = release
        self.first: dict[int, Any] = {}  # slot -> meta of its first cotangent
        self.mode: dict[int, str] = {}  # slot -> how its last cotangent arrived
        self.covered: set[int] = set()  # slots whose cotangents are slices tiling them
        self.buffers: list[tuple[str, tuple]] = []  # (name, (shape, dtype)) of each buffer

    def name(self, value: Any, prefix: str = "K") -> str:
        n = f"{prefix}{len(self.ns)}"
        self.ns[n] = value
        return n

    def buffer(self, shape: tuple, dtype: Any) -> str:
        """'fresh(cell)' for a large result of this shape and dtype, else ''. The cell itself
        is chosen by share_buffers once every line is written."""
        if int(np.prod(shape)) * np.dtype(dtype).itemsize < BUFFER_BYTES:
            return ""
        n = self.name(None, "B")
        self.buffers.append((n, (tuple(shape), np.dtype(dtype))))
        return f"fresh({n})"

    def share_buffers(self, outputs: set[int]) -> None:
        """Give each buffer a cell (buffers.py). A buffer held past the replay gets an own
        cell; the others share: one cell serves buffers of one shape and dtype whose arrays are
        never live at once (by the lines that can hold each: _last_holder), as a compiler
        allocates registers, and the cells get places in one arena by the same liveness. An
        array still held when its memory comes round again (a view of it, a value a rule saved)
        makes the replay allocate anew: sharing never changes a value, it only bounds the
        memory the tape keeps."""
        where = {}
        for k, line in enumerate(self.lines):
            if isinstance(line, str):
                for n in _BUFFER.findall(line):
                    where.setdefault(n, k)
        end = len(self.lines)
        frees = [k for k, line in enumerate(self.lines)
                 if not isinstance(line, str) and line[5] is T.FREE]
        pool: dict[tuple, list[list]] = {}  # (shape, dtype) -> [[names], [(first, last)]]
        alone = []  # (key, name, spans) of buffers that become a .grad
        for n, key in sorted(self.buffers, key=lambda b: where.get(b[0], -1)):
            k = where.get(n, -1)
            last, to_grad = _last_holder(self.lines, k, outputs) if k >= 0 else (end, False)
            if to_grad and last < end and frees:  # a .grad until a FREE entry lets go of it:
                # the next one, or the first of the next replay
                after = [f for f in frees if f > last]
                alone.append((key, n, [(k, after[0])] if after else [(0, frees[0]), (k, end)]))
                continue
            if last >= end:  # held past the replay (V keeps it): a cell of its own
                self.ns[n] = own_cell(*key)
                continue
            for names, spans in pool.get(key, ()):
                if spans[-1][1] < k:
                    names.append(n)
                    spans.append((k, last))
                    break
            else:
                pool.setdefault(key, []).append([[n], [(k, last)]])
        groups = [(key, names, spans) for key, entries in pool.items()
                  for names, spans in entries] + [(key, [n], spans) for key, n, spans in alone]
        cells, _ = arena([(shape, dtype, spans) for (shape, dtype), _, spans in groups])
        sharing = set()
        for (_, names, _), cell in zip(groups, cells):
            for n in names:
                self.ns[n] = cell
                sharing.add(n)
        self.lines = [_BUFFER.sub(lambda m: f"shared({m.group(1)})" if m.group(1) in sharing
                                  else m.group(0), line) if isinstance(line, str) else line
                      for line in self.lines]

    def out(self, slot: int, shape: Any = None, dtype: Any = None) -> str:
        """', out=fresh(cell)' for a large result of this slot's shape, else ''."""
        buf = self.buffer(*(self.meta[slot] if shape is None else (shape, dtype)))
        return f", out={buf}" if buf else ""

    def slice(self, d: int, add: bool, m: Any, g: str, idx: tuple) -> None:
        """Lines adding g, the cotangent of x[idx], into slot d (x's cotangent), as eager's
        first-order backward does: one array per parent, zeros with the first slice's g put at
        its index, the next ones added in place there (``autodiff/sparse.py``)."""
        k = self.name(idx, "I")
        if not add:
            self.first[d] = m
            self.mode[d] = "sum"  # the tape's own array: later cotangents go in place
            shape, dtype = m
            buf = self.buffer(shape, dtype)
            if buf:
                self.lines.append(f"t = {buf}")
                if d not in self.covered:
                    self.lines.append("t.fill(0)")
            else:
                fn = "np_empty" if d in self.covered else "np_zeros"
                self.lines.append(f"t = {fn}({shape!r}, {self.name(dtype, 'D')})")
            self.lines += [f"t[{k}] = {g}", f"v[{d}] = t"]
        elif d in self.covered:  # a part no other slice wrote: 0 + g, eager's bits
            zero = self.name(m[1].type(0), "Z")
            self.lines.append(f"np_add({zero}, {g}, out=v[{d}][{k}])")
        elif m == self.first[d] and self.mode.get(d) in ("sum", "add"):
            self.mode[d] = "add"
            self.lines.append(f"v[{d}][{k}] += {g}")
        else:  # a sum nobody proved the tape's own, or of another shape or dtype
            self.mode[d] = "fallback"
            self.lines.append(f"v[{d}] = slice_add(v[{d}], {g}, {k}, {m[0]!r})")

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
        elif kind is T.GRAD:
            reads, writes = [] if e[2] is None else [e[2]], (e[3],)
        elif kind is T.JVP:
            reads, writes = [s for s in e[3] if s is not None], (e[7],)
        self.lines.append(("side", f"side({self.name(e, 'E')}, V, seen)", bail, reads, writes,
                           kind))

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
            call, bail, reads, writes = line[1:5]
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


def _last_holder(lines: list, k: int, outputs: set[int]) -> tuple[int, bool]:
    """The last line at which the array made at line k can be held, and whether it may also
    become a .grad (a LEAF entry reads it; tape.set_grad). The array goes into the name that
    line assigns, and on into every name assigned from an expression reading a holder. A slot
    lets it go after the line that last reads it, and a temporary (t, gx, g0) after its last
    read before it is reassigned: the source deletes both there (_drop_dead) when that line is
    at the top level. len(lines) when unsure; where the guess is wrong the buffers' own check
    (buffers.py) sees the array held and allocates anew, so a guess costs memory or time, never
    a value."""
    end = len(lines)
    m = _ASSIGN.match(lines[k])
    if not m:
        return end, False
    holders = {m.group(1)}
    to_grad = False
    last = k
    for j in range(k + 1, end):
        line = lines[j]
        if not holders:
            return last, to_grad
        if not isinstance(line, str):  # a side entry: the list V it reads keeps the array
            if any(f"v[{i}]" in holders for i in (*line[3], *line[4])):
                if line[5] is not T.LEAF:
                    return end, False
                to_grad = True  # it may become a .grad (tape.set_grad)
            continue
        m = _ASSIGN.match(line)
        if any(_mentions(line[m.end():] if m else line, h) for h in holders):
            if line.startswith(" ") or line.endswith(":"):
                return end, False  # no del follows a nested line or a header
            rule = _RULE.search(line)
            if rule:  # the rule's Context may keep what it reads, until release(C)
                holders.add(rule.group(1))
            elif line.startswith("release("):
                holders.discard(line[8:-1])
            last = j
        if m:
            name = m.group(1)
            # A forward rule's result may be (a view of) what it reads; not of its Context's
            # values. A vjp's cotangents (gs) are taken as new arrays: where one is a view of
            # g (a reshape's), shared() sees the view held and the arena is renewed.
            if name != "gs" and any(_aliases(line[m.end():], h) for h in holders
                                    if h[0] != "C"):
                holders.add(name)
            elif name in holders:
                holders.discard(name)
                if name.startswith("v["):  # a slot holds it while its new value is computed
                    last = max(last, j)  # (a temporary was deleted after its last use)
    if any(f"v[{i}]" in holders for i in outputs):
        return end, False
    return last, to_grad


def _aliases(rhs: str, name: str) -> bool:
    """Whether the value of expression rhs can be (a view of) name's array. New arrays: a
    NumPy call not writing out=name, arithmetic, a sum. Anything else reading name (a view,
    the name itself, a recorded rule, which may return its input) is taken to alias it."""
    if not _mentions(rhs, name):
        return False
    n = re.escape(name)
    if re.search(rf"out={n}(?![\w\[])", rhs):
        return True
    if rhs.startswith(("np_", "matmul_t(")) or re.match(rf"{n}\.sum\(", rhs):
        return False
    return " if " in rhs or not re.search(r" [-+*/@] ", rhs)


def _mentions(line: str, name: str) -> bool:
    if name.startswith("v["):
        return name in line
    return re.search(rf"\b{name}\b", line) is not None


def release(ctx: Any) -> None:
    """Drop what a recorded Context's forward kept for its vjp (saved values and the op's
    forward_state, an LSTM's gate cache) once the vjp ran, as eager's backward does: the next
    replay's forward sets them again."""
    ctx.saved = ()
    for a in ctx.op.forward_state:
        ctx.__dict__.pop(a, None)


def slice_add(prev: Any, g: np.ndarray, idx: tuple, shape: tuple) -> Any:
    """prev + (zeros(shape) with g at idx), as reverse._sum gives it when prev may be held
    elsewhere: a copy of prev with g added at idx, or a dense sum when they do not match."""
    if type(prev) is np.ndarray and prev.shape == shape and prev.dtype == g.dtype:
        prev = prev.copy()
        prev[idx] += g
        return prev
    dense = np.zeros(shape, g.dtype)
    dense[idx] = g
    return prev + dense


def _drop_dead(body: list[str]) -> list[str]:
    """body with ``del`` after each local's last use at the top level: a slot's (s<i>) last
    use, and a temporary's (t, gx, g0, ...) last use before it is reassigned. NumPy then reuses
    the memory of dead intermediates, as hand-written code that lets them go does, and the
    tape's buffers are free for share_buffers' next user."""
    last: dict[str, int] = {}
    dead: dict[int, list[str]] = {}

    def drop(n: str) -> None:
        k = last.pop(n)
        if not body[k].startswith(" ") and not body[k].endswith(":"):
            dead.setdefault(k, []).append(n)

    for k, line in enumerate(body):
        m = _ASSIGN.match(line)
        if m and not line.startswith(" ") and _TEMP.fullmatch(m.group(1)):
            n = m.group(1)
            if n in last and not re.search(rf"\b{n}\b", line[m.end():]):
                drop(n)  # reassigned from something else: its value died at its last use
        for n in _LOCAL.findall(line) + _TEMP.findall(line):
            last[n] = k
    for n in list(last):
        drop(n)
    out = []
    for k, line in enumerate(body):
        out.append(line)
        if k in dead:
            out.append("del " + ", ".join(dead[k]))
    return out


_SLOT = re.compile(r"\bv\[(\d+)\]")
_BUFFER = re.compile(r"fresh\((B\d+)\)")
_RULE = re.compile(r"\bF\d+\((C\d+)")
_ASSIGN = re.compile(r"^\s*(v\[\d+\]|\w+) = ")
_LOCAL = re.compile(r"\bs\d+\b")
_TEMP = re.compile(r"\b(?:t|gx|gs|r|g\d+)\b")
_TARGET = re.compile(r"^\s*v\[(\d+)\] \+?=")


def build(entries: list, ops: dict, meta: dict, inputs: set[int], outputs: set[int]
          ) -> tuple[Any, str]:
    """The replay function ``run(V, seen)`` of these entries (BAIL when a value guard fails), and
    its source. inputs: the slots holding values when it starts; outputs: the slots read after."""
    p = _Program(meta)
    vjp_of = {id(e[2]): e for e in entries if e[0] is T.VJP}
    spares = [e[3] for e in entries if e[0] is T.LEAF]
    tangents = {id(e[2]) for e in entries if e[0] is T.JVP}  # their rules read ctx.saved
    emits = {id(e[2]): None if id(e[2]) in tangents else
             lowering(ops[id(e[2])], meta, vjp_of.get(id(e[2])))
             for e in entries if e[0] in (T.FWD1, T.FWD2, T.FWD)}
    p.covered = _tiled(entries, ops, meta, emits)
    lowered: dict[int, Any] = {}
    for e in entries:
        kind = e[0]
        if kind in (T.FWD1, T.FWD2, T.FWD):
            ctx = e[2]
            emit = emits[id(ctx)]
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
            p.side(e, kind in (T.COEF, T.GRAD))
            drops_grads = kind is T.SETNONE or (kind is T.CALL and e[3])
            if drops_grads and spares:  # the .grads let go of are freed now, as eager's
                p.side((T.FREE, spares))
    p.share_buffers(outputs)
    src = p.source(inputs, outputs)
    exec(compile(src, "<cr.compile tape>", "exec"), p.ns)  # our own generated code
    return p.ns["run"], src


def _tiled(entries: list, ops: dict, meta: dict, emits: dict) -> set[int]:
    """The cotangent slots whose every contribution is a lowered slice's, the slices selecting
    each element once (an LSTM's gates): their buffer needs no zero fill."""
    parts: dict[int, list] = {}
    for e in entries:
        if e[0] is not T.VJP:
            continue
        idx = slice_index(ops[id(e[2])], meta) if emits.get(id(e[2])) is not None else None
        for (_, d, _), m in zip(e[4], e[6]):
            parts.setdefault(d, []).append((idx, m))
    out = set()
    for d, ps in parts.items():
        m = ps[0][1]
        if m is not None and all(idx is not None and pm == m for idx, pm in ps) and covered(
                m[0], [idx for idx, _ in ps]):
            out.add(d)
    return out


def _generic_forward(p: _Program, e: tuple) -> None:
    kind, fwd, ctx = e[:3]
    f, c = p.name(fwd, "F"), p.name(ctx, "C")
    if kind is T.FWD2:
        args = f"v[{e[3]}], v[{e[4]}]"
    elif kind is T.FWD1:
        args = f"v[{e[3]}]"
    else:
        params: list[str] = [p.name(q, "P") for q in e[4]]
        for j, s in e[5]:  # a slot, or an index tuple of slots and constants
            params[j] = f"v[{s}]" if type(s) is int else "(" + "".join(
                f"v[{x}], " if k == "v" else f"{p.name(x, 'P')}, " for k, x in s) + ")"
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
        p.lines.append(f"release({c})")
