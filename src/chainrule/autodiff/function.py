"""Function (an op with forward, vjp and jvp rules), Context, and the apply path that records."""

from __future__ import annotations

import functools
import itertools
import traceback
from typing import Any

import numpy as np

from chainrule.autodiff.modes import STATE
from chainrule.autodiff.zero import ZERO
from chainrule.backend import asarray, is_device_array, like, on_device
from chainrule.tensor import Tensor

_next_seq = itertools.count().__next__

# The active cr.compile recorder (chainrule/compile/), or None: _finish and the backward pass
# report each op and rule call to it. Nothing below compile/ sets it.
RECORDER: Any = None
# While the ONNX exporter runs a model (onnx/): id of each array made outside the graph -> how:
# ("values", fn, args, Tensor) for values(), ("op", Context, Tensor) for an op nothing recorded
TRACE: dict | None = None


class Context:
    """Per-call state of an op; once recorded it is the graph node.

    Rules read ``saved`` (what forward saved), ``batch`` (leading batch axes of the tangent or
    cotangent being processed) and any parameters forward stored as attributes.
    """

    __slots__ = ("__dict__", "args", "batch", "op", "out_id", "out_ndim", "out_tangents", "saved",
                 "seq", "where")

    def save_for_backward(self, *values: Any) -> None:
        """Keep values (ndarrays: inputs or the output) for the rules."""
        self.saved = values

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether its gradient is wanted."""
        args = self.args
        if len(args) == 2:  # the binary ops' backward asks this for every node
            a, b = args
            return (isinstance(a, Tensor) and a.requires_grad,
                    isinstance(b, Tensor) and b.requires_grad)
        return tuple([isinstance(a, Tensor) and a.requires_grad for a in args])


class TensorContext:
    """A view of a Context whose saved values are Tensors, for rules that must be differentiable."""

    __slots__ = ("_base", "batch", "saved")

    def __init__(self, base: Context, saved: tuple, batch: int) -> None:
        self._base = base
        self.saved = saved
        self.batch = batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


class Function:
    """An op: ``forward(ctx, *ndarrays, *params)``, ``vjp(ctx, g)`` and ``jvp(ctx, *tangents)``.

    Subclass and call ``apply``. Rules use operators and chainrule's functions so they work on
    ndarrays, Tensors and batched tangents alike. ``n_in`` is the number of leading arguments
    that are (differentiable) inputs; the rest are parameters passed to forward unchanged.
    ``sparse_vjp(ctx, g)``, where an op has one, is vjp for ndarrays returning an
    IndexedCotangent (autodiff/sparse.py): a first-order backward calls it instead of vjp.
    ``forward_state`` names the attributes forward keeps for the rules besides ``saved`` (an
    LSTM's gates): a backward that frees the graph frees them too, as PyTorch frees saved
    tensors.
    """

    n_in: int | None = None
    sparse_vjp: Any = None
    forward_state: tuple[str, ...] = ()  # Context attributes (beyond saved) a backward frees

    @staticmethod
    def forward(ctx: Context, *args: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def jvp(ctx: Context, *tangents: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run forward on the inputs' arrays and record the op when an input requires grad."""
        n = cls.n_in
        if n is None or n >= len(args):
            return _apply(cls, args, ())
        return _apply(cls, args[:n], args[n:])


def _constant(value: Any, inputs: tuple) -> np.ndarray:
    """A non-Tensor input as an array; float values take the float dtype of the Tensor inputs
    (and their device), and a Python number that of an array input too, as NumPy's weak
    scalars (``cr.add(x64, 2.5)`` is float64)."""
    given = isinstance(value, np.ndarray) or is_device_array(value)  # an array keeps its dtype
    arr = value if given else np.asarray(value)
    if arr.dtype.kind in "fiub":
        for a in inputs:
            if isinstance(a, Tensor):
                d = a._data
            elif not given and (isinstance(a, np.ndarray) or is_device_array(a)):
                d = a
            else:
                continue
            if d.dtype.kind == "f":
                if arr.dtype != d.dtype and (arr.dtype.kind == "f" or not given):
                    arr = arr.astype(d.dtype)
                break
        else:
            if arr.dtype == np.float64 and not given:
                from chainrule.dtypes import get_default_dtype

                arr = arr.astype(get_default_dtype())
    for a in inputs:
        if isinstance(a, Tensor) and on_device(a._data):
            return like(arr, a._data)
    return arr


def _apply(cls: Any, inputs: tuple, params: tuple) -> Tensor:
    arrays = []
    record = False
    fw = False
    for a in inputs:
        if isinstance(a, Tensor):
            arrays.append(a._data)
            if a.requires_grad:
                record = True
            if a._tangents is not None:
                fw = True
        else:
            arrays.append(_constant(a, inputs))
    ctx = Context()
    try:
        out = cls.forward(ctx, *arrays, *params)
    except (TypeError, ValueError):
        check_same_device(cls, inputs)
        raise
    return _finish(cls, ctx, inputs, out, record, fw, params)


def _apply1(cls: Any, x: Tensor) -> Tensor:
    """apply for a one-input op called with a Tensor (the hot path of unary ops)."""
    ctx = Context()
    out = cls.forward(ctx, x._data)
    if x.requires_grad or x._tangents is not None or STATE.anomaly or RECORDER is not None \
            or TRACE is not None:
        return _finish(cls, ctx, (x,), out, x.requires_grad, x._tangents is not None)
    t = _new(Tensor)
    t._data = out if type(out) is np.ndarray or is_device_array(out) else np.asarray(out)
    t.grad = t._node = t._tangents = None
    t.requires_grad = False
    return t


def _apply2(cls: Any, a: Any, b: Any) -> Tensor:
    """apply for a two-input op (the hot path of binary operators)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        ctx = Context()
        try:
            out = cls.forward(ctx, a._data, b._data)
        except (TypeError, ValueError):
            check_same_device(cls, (a, b))
            raise
        return _finish(cls, ctx, (a, b), out, a.requires_grad or b.requires_grad,
                       a._tangents is not None or b._tangents is not None)
    if a is ZERO or b is ZERO:
        return NotImplemented  # let ZERO's reflected operator absorb it
    return _apply(cls, (a, b), ())


_new = object.__new__


def _finish(cls: Any, ctx: Context, inputs: tuple, out: Any, record: bool, fw: bool,
            params: tuple = ()) -> Tensor:
    """Wrap forward's output; record the node and push tangents as needed."""
    out_id = id(out)
    if type(out) is not np.ndarray and not is_device_array(out):
        out = np.asarray(out)
    t = _new(Tensor)
    t._data = out
    t.grad = t._tangents = None
    if record and STATE.grad_enabled:
        ctx.op = cls
        ctx.args = inputs
        ctx.seq = _next_seq()
        ctx.out_ndim = out.ndim
        ctx.out_id = out_id
        t.requires_grad = True
        t._node = ctx
    else:
        t.requires_grad = False
        t._node = None
    if fw:
        ctx.op = cls
        ctx.out_id = out_id
        ctx.out_ndim = out.ndim
        from chainrule.autodiff.forward import push_tangents

        push_tangents(cls, ctx, inputs, t)
        if t._node is not None:
            ctx.out_tangents = t._tangents
    if STATE.anomaly:
        ctx.where = _user_frame()
        check_finite(out, f"{_name(cls)} (forward)", ctx)
    if RECORDER is not None:
        RECORDER.op(cls, ctx, inputs, params, t)
    if TRACE is not None and t._node is None:
        ctx.op = cls
        ctx.args = inputs
        TRACE[id(out)] = ("op", ctx, t)
    return t


def traced() -> bool:
    """Whether values library code computes from the step's values must be Tensor ops or
    values() (a mask, a branch on them): cr.compile records them, or the ONNX exporter traces
    them. Otherwise library code may take a faster NumPy branch."""
    return RECORDER is not None or TRACE is not None


def values(fn: Any, *args: Any) -> Tensor:
    """A Tensor of values outside the graph: fn on the arrays of args (Tensors, arrays, numbers),
    as argmax, a mask or a cast to an integer dtype give. cr.compile's recorder replays fn on
    the new values; the ONNX exporter writes fn as nodes (TRACE)."""
    out = asarray(fn(*[a._data if isinstance(a, Tensor) else a for a in args]))
    if RECORDER is not None:
        RECORDER.engine_call(functools.partial(_as_array, fn), args, out)
    t = Tensor._make(out, False, None)
    if TRACE is not None:
        TRACE[id(out)] = ("values", fn, args, t)
    return t


def _as_array(fn: Any, *arrays: Any) -> Any:
    return asarray(fn(*arrays))


def constant(arr: Any) -> Any:
    """arr, which library code computed from shapes alone (a triangular mask): cr.compile's
    recorder keeps it as a constant of the step."""
    if RECORDER is not None and type(arr) is np.ndarray:
        RECORDER.constants[id(arr)] = arr
    return arr


def library_call(fn: Any, *args: Any) -> Any:
    """fn(*args) for library code working outside the ops on state the step holds (gradient
    clipping reads and rewrites .grad): cr.compile's recorder replays it as one call, with the
    same arguments, and its array result (or None) from the new call."""
    if RECORDER is None:
        return fn(*args)
    return RECORDER.library_call(fn, args)


def check_same_device(cls: Any, inputs: tuple) -> None:
    """Raise PyTorch's error when the Tensor inputs live on different devices (called once an op
    failed, so the happy path pays nothing)."""
    devices = []
    for a in inputs:
        if isinstance(a, Tensor) and a.device not in devices:
            devices.append(a.device)
    if len(devices) > 1:
        raise RuntimeError(f"{_name(cls)}: Expected all tensors to be on the same device, but "
                           f"found at least two devices, {devices[0]} and {devices[1]}!")


def _name(cls: Any) -> str:
    return getattr(cls, "name", None) or cls.__name__.lower()


def _user_frame() -> str:
    """The innermost stack frame outside chainrule, as 'file:line: code'."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if "/chainrule/" not in frame.filename.replace("\\", "/"):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


def check_finite(value: Any, what: str, ctx: Any = None) -> None:
    """Raise FloatingPointError if value holds NaN or Inf (anomaly mode)."""
    data = value._data if isinstance(value, Tensor) else value
    if data is ZERO or not (isinstance(data, np.ndarray) or is_device_array(data)) or (
            data.dtype.kind not in "fc"):
        return
    if not np.isfinite(data).all():
        kind = "NaN" if np.isnan(data).any() else "Inf"
        where = getattr(ctx, "where", None) if ctx is not None else None
        loc = f"; called at {where}" if where else ""
        raise FloatingPointError(f"detect_anomaly: {what} produced {kind}{loc}")


def saved_tensors(ctx: Context, inputs: tuple, out: Any, strip: int | None = None) -> tuple:
    """Map ctx.saved ndarrays to Tensors: inputs to the input Tensors, the output to ``out()``."""
    from chainrule.autodiff.forward import restrict

    res = []
    used: set[int] = set()
    for s in getattr(ctx, "saved", ()):
        # Inputs sharing one ndarray (x * y on the same array, or a Tensor times the very array
        # it wraps) are told apart by position: each saved array takes the first matching input
        # not yet taken, so a nested jvp does not see x's tangent twice or give a constant one.
        match = [i for i, a in enumerate(inputs) if (a._data if isinstance(a, Tensor) else a) is s]
        if match:
            i = next((i for i in match if i not in used), match[0])
            used.add(i)
            a = inputs[i]
            if not isinstance(a, Tensor):
                res.append(Tensor._make(asarray(s), False, None))
            else:
                res.append(a if strip is None else restrict(a, strip))
        else:
            if not isinstance(s, np.ndarray | np.generic) and not is_device_array(s):
                res.append(s)
            elif id(s) == ctx.out_id:
                res.append(out())
            else:
                res.append(Tensor._make(asarray(s), False, None))
    return tuple(res)
