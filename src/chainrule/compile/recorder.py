"""Record one eager call of a step: the engine reports each op and rule call here.

While a Recorder is active (``function.RECORDER``), ``_finish`` calls :meth:`Recorder.op` for every
op and the backward pass calls :meth:`backward_start`, :meth:`vjp` and :meth:`leaves` (or
:meth:`backward_results` for ``inputs=``, as cr.grad does). A few library entry points are patched
for the duration of the call (see ``patches.py``): the optimizer loop and ``zero_grad`` become tape
entries, NumPy work of library code outside the ops (random draws, dropout masks, batch
statistics) becomes replayed calls (:meth:`numpy_call`), and anything that makes the step depend
on values (``.item()``, ``bool(t)``, in-place writes outside ops) fails the recording, which then
only says why and where. :meth:`finish` hands the entries to ``lower.py`` for the replay function.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import Any

import numpy as np

from chainrule.autodiff.function import _constant
from chainrule.autodiff.inplace import node_at
from chainrule.autodiff.modes import STATE
from chainrule.autodiff.zero import ZERO
from chainrule.compile import tape as T
from chainrule.compile.lower import build
from chainrule.compile.origins import backward_possible, stub, user_held, user_line
from chainrule.tensor import Tensor


class NotCompilable(Exception):
    """Why a step cannot be recorded (raised only inside the recorder, never to the user)."""


class Recorder:
    """Builds a Tape while the step runs eagerly."""

    def __init__(self, args: tuple) -> None:
        self.failure: tuple[str, str, int] | None = None  # (reason, file, line)
        self.vals: list[Any] = []
        self.slot_of: dict[int, int] = {}
        # weak references to the arrays whose ids are keys of slot_of, made and drawn (track())
        self.refs: dict[int, Any] = {}
        self.arg_slots: list[tuple[int, int]] = []
        self.externals: list[tuple[Tensor, int, tuple, np.dtype, bool]] = []
        self.modules: dict[int, tuple[Any, bool, tuple]] = {}
        self.entries: list[Any] = []
        self.nodes: dict[int, tuple[Any, int]] = {}  # id(ctx) -> (op class, output slot)
        self.ops: dict[int, tuple[Any, tuple, tuple, int]] = {}  # id(ctx) -> cls, ins, params, out
        self.meta: dict[int, tuple[tuple, np.dtype]] = {}  # slot -> shape, dtype of its array
        self.stubs: list[tuple[Any, tuple]] = []
        self.gslot: dict[Any, int] = {}
        self.backward_entries: list[int] = []
        self.leaf_objs: list[Tensor] = []
        self.side_effects = False  # an entry that a bail-out could not undo was recorded
        self.quiet = 0  # > 0 inside a library call recorded as one entry (optimizer loop)
        self.in_backward = False
        self.grads: dict[int, Tensor] = {}  # id(a .grad the step read) -> its parameter
        self.constants: dict[int, np.ndarray] = {}  # arrays made from shapes alone (zeros)
        self.drawn: set[int] = set()  # ids of arrays drawn from a generator (may become Tensors)
        self.made: set[int] = set()  # ids of arrays library code wrapped outside the ops
        self.last_write = STATE.last_write
        self.arg_ids = {id(a): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self.pending_jvp: tuple | None = None  # push_tangents' rule call, for the next op
        self.arg_tensors: dict[int, int] = {}  # argument index -> slot of the Tensor itself
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if type(a._data) is not np.ndarray:
                    self.failure = (f"a tensor argument on {a.device} (the tape replays NumPy "
                                    "calls: CPU tensors only)", *user_line()[:2])
                self.arg_slots.append((i, self._new(a._data)))

    # ----- slots -----
    def track(self, arr: np.ndarray) -> None:
        """Forget arr's id in the maps keyed by ids when arr dies, so that a new array given
        that id is not taken for it: the recording keeps no array alive, and needs the memory
        of the eager step."""
        i = id(arr)
        self.refs[i] = weakref.ref(arr, functools.partial(_forget, self, i))

    def _new(self, value: Any = None) -> int:
        self.vals.append(None)
        s = len(self.vals) - 1
        if isinstance(value, np.ndarray):
            self.slot_of[id(value)] = s
            self.track(value)
            self.meta[s] = (value.shape, value.dtype)
        return s

    def const(self, value: Any) -> int:
        """A slot holding a constant (kept in the replay's template)."""
        s = self._new()
        self.vals[s] = value
        if isinstance(value, np.ndarray):
            self.meta[s] = (value.shape, value.dtype)
        return s

    def slot(self, t: Tensor) -> int:
        """The slot of a Tensor's array: a recorded value, an argument, or a live external."""
        d = t._data
        if type(d) is not np.ndarray:
            self.fail(f"a tensor on {t.device} (the tape replays NumPy calls: CPU tensors only)")
        s = self.slot_of.get(id(d))
        if s is not None:
            if t.requires_grad and t._node is None and id(d) in self.drawn:
                self.fail("a random tensor made with requires_grad=True inside the step (a "
                          "new leaf each call)")
            return s
        if t._node is not None:
            if id(t._node) in self.nodes:  # apply_inplace's copy of the value it overwrites
                self.fail("an in-place op on a tensor the step computed (not recorded yet)")
            self.fail("an op used a tensor computed (with a graph) outside the compiled function")
        if id(d) in self.made and not self.is_constant(d):
            self.fail("an op used a tensor that library code computed outside chainrule's ops "
                      "(indices from a sort, a count, a value read into Python): not recorded")
        s = self._new(d)
        self.externals.append((t, s, d.shape, d.dtype, t.requires_grad))
        return s

    def arg_tensor(self, t: Tensor) -> int | None:
        """For an argument, the slot a replay puts the new call's Tensor in (its .grad is
        written there), else None."""
        i = self.arg_ids.get(id(t))
        if i is None:
            return None
        if i not in self.arg_tensors:
            self.arg_tensors[i] = self._new()
        return self.arg_tensors[i]

    def note_made(self, data: np.ndarray) -> None:
        """Tensor._make wrapped data outside the ops (see Recorder.slot)."""
        if id(data) not in self.slot_of:
            self.made.add(id(data))
            self.track(data)

    def fail(self, reason: str) -> None:
        """Mark the step as not compilable (first reason wins) and stop recording."""
        if self.failure is None:
            file, line, _ = user_line()
            self.failure = (reason, file, line)
        raise NotCompilable(reason)

    def check_writes(self) -> None:
        """An in-place write outside a recorded library call makes the step not compilable."""
        if STATE.last_write != self.last_write and not self.quiet:
            self.failure = self.failure or ("an in-place write to a tensor", *user_line()[:2])

    # ----- forward -----
    def op(self, cls: Any, ctx: Any, inputs: tuple, params: tuple, t: Tensor) -> None:
        """_finish's hook: one op's forward call."""
        if self.failure is not None or self.quiet:
            return
        with contextlib.suppress(NotCompilable):
            self._op(cls, ctx, inputs, params, t)

    def _op(self, cls: Any, ctx: Any, inputs: tuple, params: tuple, t: Tensor) -> None:
        self.check_writes()
        ins = []
        for a in inputs:
            if isinstance(a, Tensor):
                ins.append(self.slot(a))
            else:
                ins.append(self._raw(_constant(a, inputs), a))
        pslots: list[tuple[int, Any]] = []
        for j, p in enumerate(params):
            if isinstance(p, np.ndarray) and (id(p) in self.slot_of or p.size > 1):
                pslots.append((j, self._raw(p, p)))
            elif type(p) is tuple and any(isinstance(i, np.ndarray) for i in p):
                pslots.append((j, self._tuple_param(p)))
        fwd = cls.forward
        out = self._new(t._data)
        if len(ins) == 1 and not params:
            entry: tuple = (T.FWD1, fwd, ctx, ins[0], out)
        elif len(ins) == 2 and not params:
            entry = (T.FWD2, fwd, ctx, ins[0], ins[1], out)
        else:
            entry = (T.FWD, fwd, ctx, tuple(ins), tuple(params), tuple(pslots), out)
        self.entries.append(entry)
        self.nodes[id(ctx)] = (cls, out)
        self.ops[id(ctx)] = (cls, tuple(ins), tuple(params), out)
        self.stubs.append((ctx, tuple(stub(a) for a in inputs)))
        pending, self.pending_jvp = self.pending_jvp, None
        if pending is not None and pending[0] is ctx:  # its forward-mode rule call
            _, jvp, tans, nb, d = pending
            tslots = tuple(None if tn is ZERO else self._raw(tn) for tn in tans)
            self.entries.append((T.JVP, jvp, ctx, tslots, nb, d.shape, d.dtype, self._new(d)))

    def engine_call(self, fn: Any, args: tuple, out: Any) -> None:
        """numpy_call for the engine's own NumPy steps outside the ops (a transform's copy to
        row-major, function.values): never raises into the step."""
        if self.failure is None and not self.quiet:
            with contextlib.suppress(NotCompilable):
                self.numpy_call(fn, args, out, pure=True)

    def inplace(self, fn: Any, args: tuple, out: Any) -> None:
        """apply_inplace's NumPy steps, replayed in order: the copy of a tensor's old value it
        computes from (fn returns it: out), or its write into the tensor's memory (out None).
        The write is the step's own, not an unrecorded one (check_writes)."""
        if self.failure is None and not self.quiet:
            with contextlib.suppress(NotCompilable):
                self.numpy_call(fn, args, out, pure=out is not None)
        self.last_write = STATE.last_write

    def library_call(self, fn: Any, args: tuple) -> Any:
        """Library code working outside the ops (function.library_call: gradient clipping; the
        patched units: batch statistics) while recording: fn runs as one unit (its .grad reads
        and in-place writes are its own) and is replayed as one call on the new values."""
        if self.quiet or self.failure is not None:
            return fn(*args)
        self.quiet += 1
        try:
            out = fn(*args)
        finally:
            self.quiet -= 1
            self.last_write = STATE.last_write  # its writes are replayed with it
        with contextlib.suppress(NotCompilable):
            self.numpy_call(fn, args, out)
        return out

    def read_values(self, t: Tensor, reason: str) -> None:
        """Library code read t's values into NumPy: a value of the step (a slot) cannot be
        replayed that way; a constant (made from Python numbers) can."""
        if id(t._data) in self.slot_of:
            self.unsupported(reason)

    def unsupported(self, reason: str) -> None:
        """A computation the tape cannot replay happened (the step then runs eagerly)."""
        if self.failure is None:
            with contextlib.suppress(NotCompilable):
                self.fail(reason)

    def _raw(self, arr: np.ndarray, given: Any = None) -> int:
        """The slot of a non-Tensor input: a recorded array, or a constant (a scalar, an array
        made from shapes, or one the user's code holds: arr, or the value given that it was
        made from)."""
        s = self.slot_of.get(id(arr))
        if s is not None:
            return s
        if ((arr.size > 1 or id(arr) in self.made) and not self.is_constant(arr)
                and not user_held(given)):
            self.fail("an op took an ndarray computed outside chainrule's ops (a random mask, "
                      "a NumPy computation on values)")
        return self.const(arr)

    def _tuple_param(self, param: tuple) -> tuple:
        """A parameter tuple holding arrays (an index: x[i], gather, an embedding's lookup),
        rebuilt on replay: ("v", slot) for an array the replay computes or is given, ("k",
        value) for the rest (arrays library code made from shapes: pooling matrices). An array
        derived from the step's values outside the ops, or a boolean mask of them (the result's
        shape would depend on its values), fails."""
        items = []
        for a in param:
            s = self.slot_of.get(id(a)) if isinstance(a, np.ndarray) else None
            if s is None:
                if isinstance(a, np.ndarray) and self._derived(a):
                    self.fail("an op took an array that library code computed from the step's "
                              "values outside chainrule's ops")
                items.append(("k", a))
            elif a.dtype == np.bool_:
                self.fail("indexing with a boolean mask (the result's shape depends on its "
                          "values)")
            else:
                items.append(("v", s))
        return tuple(items)

    def _derived(self, a: np.ndarray) -> bool:
        """Whether a is, or views, an array library code made outside the ops or a view of a
        recorded value."""
        if id(a) in self.made:
            return True
        while a.base is not None:
            a = a.base
            if id(a) in self.slot_of or id(a) in self.made:
                return True
        return False

    def is_constant(self, arr: np.ndarray) -> bool:
        """Whether arr (or the array it views) was made by library code from shapes alone."""
        return id(arr) in self.constants or (arr.base is not None and id(arr.base) in
                                             self.constants)

    def numpy_call(self, fn: Any, args: tuple, out: Any, live: dict[int, Any] | None = None,
                   pure: bool = False) -> None:
        """A NumPy computation of library code outside the ops (batch statistics, a dropout
        mask, a random draw), replayed as one call of fn on the new values.

        Tensor and recorded-array arguments are read from their slots; live maps an argument's
        position to a function giving its value at replay (the generator a draw comes from);
        the other arguments are constants. out: the array, tuple of arrays, or None returned.
        pure: fn only computes its result (a mask, indices), changing no state.
        """
        self.check_writes()
        template = list(args)
        reads = []
        for i, a in enumerate(args):
            if live is not None and i in live:
                template[i] = None
            elif isinstance(a, Tensor):
                reads.append((i, self.slot(a)))
            elif isinstance(a, np.ndarray):
                s = self.slot_of.get(id(a))
                if s is not None:
                    reads.append((i, s))
                elif a.size > 1 and not self.is_constant(a):
                    self.fail(f"{getattr(fn, '__name__', 'a NumPy call')} took an ndarray "
                              "computed outside chainrule's ops")
        outs = out if type(out) is tuple else () if out is None else (out,)
        oslots = tuple(self._new(o) for o in outs)
        lives = tuple((live or {}).items())
        self.entries.append((T.NP, fn, template, tuple(reads), lives, oslots,
                             type(out) is not tuple))
        self.side_effects = self.side_effects or not pure

    # ----- backward -----
    def backward_start(self, root: Tensor, g: Any, tensor_mode: bool, unsupported: bool) -> None:
        """The backward pass begins: find the root and its cotangent's slot."""
        if self.failure is not None:
            return
        try:
            if tensor_mode or unsupported:
                self.fail("a backward with create_graph or hooks (not recorded yet)")
            node = root._node
            if node is None or id(node) not in self.nodes:
                self.fail("a backward from a tensor computed outside the compiled function")
            gs = self.slot_of.get(id(g))
            if gs is None and isinstance(g, np.ndarray) and self.is_constant(g):
                gs = self.const(g)
            if gs is None:
                if not (isinstance(g, np.ndarray) and g.size == 1 and g.shape == root.shape
                        and np.all(g == 1)):
                    self.fail("a backward with a grad= computed outside chainrule's ops")
                gs = self._new(g)
                self.entries.append((T.ROOT, self.nodes[id(node)][1], gs))
            # each pass sums its own cotangents, as eager's: a second backward in the step
            # (gradient accumulation, retain_graph) starts from fresh slots
            self.gslot = {id(node): gs}
            self.in_backward = True
        except NotCompilable:
            pass

    def vjp(self, node: Any, args: tuple, gins: Any) -> None:
        """The backward pass's hook: one rule call and where its cotangents went."""
        if self.failure is not None:
            return
        if id(node) not in self.nodes or id(node) not in self.gslot:
            self.failure = ("a backward through ops recorded outside the compiled function",
                            *user_line()[:2])
            return
        if type(gins) is not tuple:
            gins = (gins,)
        routes = []
        metas = []
        for i, (a, gi) in enumerate(zip(args, gins)):
            if gi is None or not isinstance(a, Tensor):
                continue
            p, req = node_at(a, node.seq)  # the node a had when this op used it (in-place ops)
            if not req:
                continue
            key: Any = ("leaf", id(a)) if p is None else id(p)
            d = self.gslot.get(key)
            if d is None:
                d = self.gslot[key] = self._new(gi)
                routes.append((i, d, False))
                if p is None:
                    self.leaf_objs.append(a)
            else:
                routes.append((i, d, True))
            metas.append((gi.shape, gi.dtype) if type(gi) is np.ndarray else None)
        self.backward_entries.append(len(self.entries))
        self.entries.append([T.VJP, node.op.vjp, node, self.gslot[id(node)], tuple(routes), True,
                             tuple(metas)])

    def _end_backward(self) -> bool:
        """The backward pass ends; whether it was recorded."""
        self.in_backward = False
        if self.failure is not None:
            return False
        for i in self.backward_entries:
            e = self.entries[i]
            e[5] = e[2].args is None  # retain_graph kept the saved values: keep them on replay
            self.entries[i] = tuple(e)
        self.backward_entries = []
        return True

    def backward_results(self, targets: dict, results: list) -> None:
        """A backward with inputs= (cr.grad, cr.vjp) ends: its results are its targets'
        cotangents, in their slots."""
        if not self._end_backward():
            return
        for key, i in targets.items():
            value = results[i]
            s = self.gslot.get(("leaf", id(key)) if isinstance(key, Tensor) else id(key))
            if type(value) is np.ndarray and s is not None:
                self.slot_of[id(value)] = s
                self.track(value)

    def leaves(self, leaves: dict) -> None:
        """The backward pass ends: record each leaf's accumulation into .grad."""
        if not self._end_backward():
            return
        externals = {id(e[0]) for e in self.externals}
        for leaf in leaves:  # an argument's .grad is the new call's argument's, on replay
            if id(leaf) not in externals and id(leaf) not in self.arg_ids:
                # made a leaf by the step (x.clone().requires_grad_()): a new Tensor each call
                with contextlib.suppress(NotCompilable):
                    self.fail("a backward into a tensor the step made a leaf "
                              "(requires_grad_ on a computed tensor): not recorded yet")
                return
            spare = [Tensor._make(np.empty(0, leaf._data.dtype), False, None)]
            ts = self.arg_tensor(leaf)
            self.entries.append((T.LEAF, leaf if ts is None else None,
                                 self.gslot[("leaf", id(leaf))], spare, ts))
        self.side_effects = True

    # ----- library calls and value guards -----
    def call(self, fn: Any, args: tuple, undoable: bool, drops_grads: bool) -> None:
        """A library call (optimizer loop, zero_grad) replayed as one entry; drops_grads: it may
        let go of .grads (zero_grad), which the replay then frees after it."""
        self.entries.append((T.CALL, fn, args, drops_grads))
        self.side_effects = self.side_effects or not undoable

    def coefficients(self, fn: Any, fargs: tuple, tpos: int, out: tuple) -> None:
        """A NumPy computation on an argument's values whose result is checked on replay."""
        target = fargs[tpos]
        q, denom = out
        if self.is_constant(target):  # cr.arange(n) as targets: constant coefficients too
            self.constants[id(q)] = q
            return
        ts = self.slot_of.get(id(target))
        if ts is None:
            self.fail("class coefficients computed from a target made outside chainrule's ops")
        if self.side_effects and all(ts != s for _, s in self.arg_slots):
            # its guard runs where the target is computed: a bail there must undo nothing
            self.fail("class coefficients from a target computed after a random draw or a "
                      "state update in the step")
        self.entries.append((T.COEF, fn, fargs, tpos, ts, self._new(q), denom))

    def grad_read(self, t: Tensor, grad: Tensor) -> None:
        """The step read t.grad (not None): a replay reads it then, as it is at that point
        (an accumulated sum, a clipped one), into a slot of its own."""
        if type(grad._data) is not np.ndarray:
            return
        ts = self.arg_tensor(t)
        self.grads[id(grad)] = t  # returning it is replayed as the parameter's .grad
        # a slot of its own: the array may also be a cotangent's, which its sum is not
        self.entries.append((T.GRAD, t if ts is None else None, ts, self._new(grad._data)))

    def set_none(self, t: Tensor) -> None:
        """``t.grad = None`` written by the step itself."""
        ts = self.arg_tensor(t)
        self.entries.append((T.SETNONE, t if ts is None else None, ts))

    def module(self, m: Any) -> None:
        """A module called by the step: guard its training flag and parameters."""
        if id(m) not in self.modules:
            self.modules[id(m)] = (m, m.training, tuple(m._parameters.values()))

    # ----- result -----
    def finish(self, result: Any) -> T.Tape:
        """The tape, once the step returned ``result``."""
        self.check_writes()
        spec = self._spec(result)
        if self.failure is not None:
            raise NotCompilable(self.failure[0])
        for ctx, stubs in self.stubs:
            ctx.args = stubs
        # value guards on arguments go first, so a bail comes before any draw or in-place update
        # the eager rerun would repeat; one on a computed target stays where it is computed,
        # with nothing of the kind before it (coefficients())
        args = {s for _, s in self.arg_slots}
        first = [e for e in self.entries if e[0] is T.COEF and e[4] in args]
        entries = first + [e for e in self.entries if not (e[0] is T.COEF and e[4] in args)]
        inputs = {s for _, s in self.arg_slots} | {e[1] for e in self.externals} | {
            s for s, v in enumerate(self.vals) if v is not None}
        run, source = build(entries, self.ops, self.meta, inputs, set(_slots(spec)))
        return T.Tape(self.vals, self.arg_slots, self.externals, list(self.modules.values()),
                      entries, spec, run, source, sorted(self.arg_tensors.items()))

    def _spec(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            leaf = self.grads.get(id(value))
            if leaf is None:
                if value._node is not None and backward_possible(value._node):
                    self.fail("the step returns a tensor with a graph: a backward through it "
                              "outside the compiled function is not recorded")
                return ("t", self.slot(value))
            ts = self.arg_tensor(leaf)
            return ("g", leaf) if ts is None else ("G", ts)
        if value is None or isinstance(value, str | bool):
            return ("c", value)
        if type(value) in (tuple, list):
            return ("s", type(value), [self._spec(v) for v in value])
        self.fail(f"the step returned a {type(value).__name__} (only Tensors, tuples, lists, "
                  "None are replayed)")
        return None


def _slots(spec: Any) -> list[int]:
    """The slots an output spec reads."""
    if spec[0] == "t":
        return [spec[1]]
    if spec[0] == "s":
        return [s for item in spec[2] for s in _slots(item)]
    return []


def _forget(rec: Recorder, i: int, _ref: Any) -> None:
    """An array rec tracks died: its id may now be another array's."""
    if rec.refs.get(i) is _ref:
        del rec.refs[i]
        rec.slot_of.pop(i, None)
        rec.made.discard(i)
        rec.drawn.discard(i)
