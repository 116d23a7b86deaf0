"""In-place writes: mutate the storage, record them on the graph, and catch stale saved values.

PyTorch's model: every in-place write bumps its storage's version; a rule that needs a value that
was overwritten after it was saved raises instead of computing a wrong gradient. chainrule keys
the version by the storage (the base ndarray that owns the memory, shared by every view) and stores
the creation sequence number of the write, so a node recorded before the write knows its saved
values are stale. The backward pass only looks when a write happened after the node was recorded.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from chainrule.autodiff import function
from chainrule.autodiff.modes import STATE
from chainrule.backend import asarray, is_device_array, like
from chainrule.tensor import Tensor


class InplaceError(RuntimeError, TypeError):
    """An in-place write autograd cannot allow: PyTorch raises RuntimeError, HIPS autograd
    TypeError (it refuses item assignment on a traced array), so both ``except`` clauses work."""


# id(storage) -> (weak reference to the storage, sequence number of its last in-place write)
_WRITES: dict[int, tuple[Any, int]] = {}

# Tensor -> [(seq, node, requires_grad)]: what the tensor was before each recorded in-place op.
# Ops recorded before seq took the tensor as it was then; the backward pass asks node_at().
# Keyed by id (Tensor's == is elementwise), the entry dropped when the tensor dies.
HISTORY: dict[int, tuple[Any, list]] = {}


def _remember(t: Tensor, seq: int) -> None:
    entry = HISTORY.get(id(t))
    if entry is None or entry[0]() is not t:
        entry = (weakref.ref(t, _forget_history(id(t))), [])
        HISTORY[id(t)] = entry
    entry[1].append((seq, t._node, t.requires_grad))


def _forget_history(key: int) -> Any:
    def callback(_: Any) -> None:
        HISTORY.pop(key, None)

    return callback


def node_at(a: Tensor, seq: int) -> tuple[Any, bool]:
    """a's (node, requires_grad) as an op recorded at seq saw them."""
    entry = HISTORY.get(id(a))
    if entry is not None and entry[0]() is a:
        for s, node, req in entry[1]:
            if seq < s:
                return node, req
    return a._node, a.requires_grad


def storage(a: np.ndarray) -> np.ndarray:
    """The ndarray (or CuPy array) that owns a's memory (a itself when it is not a view)."""
    while True:
        b = a.base
        if not isinstance(b, np.ndarray) and (b is None or not is_device_array(b)):
            return a
        a = b


def _forget(key: int) -> Any:
    def callback(_: Any) -> None:
        _WRITES.pop(key, None)

    return callback


def mark_written(a: np.ndarray) -> None:
    """Record that a's storage was just overwritten (its saved copies in the graph are stale)."""
    from chainrule.autodiff.function import _next_seq

    s = storage(a)
    seq = _next_seq()
    key = id(s)
    entry = _WRITES.get(key)
    if entry is not None and entry[0]() is s:
        _WRITES[key] = (entry[0], seq)
    else:
        _WRITES[key] = (weakref.ref(s, _forget(key)), seq)
    STATE.last_write = seq


def version(a: np.ndarray) -> int:
    """A number that grows with each in-place write to a's storage (0 when never written)."""
    s = storage(a)
    entry = _WRITES.get(id(s))
    return entry[1] + 1 if entry is not None and entry[0]() is s else 0


def check_saved(node: Any, name: str) -> None:
    """Raise if a value node saved was overwritten in place after node was recorded."""
    for s in getattr(node, "saved", ()):
        if not isinstance(s, np.ndarray) and not is_device_array(s):
            continue
        base = storage(s)
        entry = _WRITES.get(id(base))
        if entry is not None and entry[0]() is base and entry[1] > node.seq:
            raise InplaceError(
                f"{name}: one of the values needed for gradient computation (shape {s.shape}, "
                f"{s.dtype}) was modified by an in-place operation after {name} saved it; "
                "make a copy (t.clone()) before writing in place, or write before using it"
            )


def check_leaf(t: Tensor, op: str) -> None:
    """PyTorch's rule: a leaf that requires grad cannot be written in place while grad is on."""
    if t.requires_grad and t._node is None and STATE.grad_enabled:
        raise InplaceError(
            f"{op}: a leaf tensor that requires grad is being used in an in-place operation; "
            "write under torch.no_grad() / cr.no_grad(), or on a clone"
        )


def apply_inplace(t: Tensor, op: str, compute: Any, *others: Any, direct: Any = None) -> Tensor:
    """Write ``compute(t, *others)`` into t's memory and return t.

    When autograd is involved (t or an operand requires grad, or carries tangents) the write is
    recorded: compute runs on a copy of t's old value standing in for t, and t takes over the
    result's graph node and tangents, so later gradients flow through the in-place op.
    Otherwise ``direct(ndarray, *raw_others)``, when given, writes into the memory itself.
    """
    check_leaf(t, op)
    tracked = t._tangents is not None or (STATE.grad_enabled and t.requires_grad)
    if not tracked:
        for o in others:
            if isinstance(o, Tensor) and (o._tangents is not None or
                                          (STATE.grad_enabled and o.requires_grad)):
                tracked = True
                break
    data = t._data
    if not data.flags.writeable:
        raise RuntimeError(f"{op}: the tensor's memory is read-only (a broadcast view?)")
    rec = function.RECORDER  # cr.compile records the copy and the write as replayed calls
    if rec is not None:
        rec.check_writes()
    if tracked:
        old = Tensor._make(data.copy(), t.requires_grad, t._node)
        if rec is not None:
            rec.inplace(np.copy, (t,), old._data)
        old._tangents = t._tangents
        args = tuple(old if o is t else o for o in others)
        new = compute(old, *args)
        if new.shape != data.shape:
            new = _fit(new, data.shape, op)
        _write(data, new._data, op)
        if rec is not None:
            rec.inplace(_copy_into, (t, new), None)
        from chainrule.autodiff.function import _next_seq

        _remember(t, _next_seq())
        t._node = new._node
        t.requires_grad = new.requires_grad
        t._tangents = new._tangents
    elif direct is not None:
        raw = [o._data if isinstance(o, Tensor) else o for o in others]
        if type(data) is not np.ndarray:  # array constants follow the tensor to its device
            raw = [r if isinstance(o, Tensor) else like(r, data) for o, r in zip(others, raw)]
        try:
            direct(data, *raw)
        except TypeError as e:  # NumPy's casting errors (UFuncTypeError)
            raise RuntimeError(f"{op}: {e}") from None
        except ValueError as e:
            raise RuntimeError(f"{op}: {e} (tensor of shape {list(data.shape)})") from None
        if rec is not None:
            rec.inplace(direct, (t, *others), None)
    else:
        from chainrule.autodiff.modes import no_grad

        with no_grad():
            new = compute(t, *others)
        out = new._data if isinstance(new, Tensor) else asarray(new)
        if out is not data:
            _write(data, out, op)
            if rec is not None:
                rec.inplace(_copy_into, (t, out), None)
    mark_written(data)
    if rec is not None:
        rec.last_write = STATE.last_write  # the write just recorded
    return t


def _copy_into(dst: np.ndarray, src: np.ndarray) -> None:
    """The write of apply_inplace (checked by _write when it ran eagerly)."""
    np.copyto(dst, src, casting="unsafe")


def _fit(new: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    from chainrule.ops.shape import broadcast_to

    if not _ok(new.shape, shape) or np.broadcast_shapes(new.shape, shape) != shape:
        raise RuntimeError(
            f"{op}: output with shape {list(shape)} doesn't match the result's shape "
            f"{list(new.shape)}"
        )
    return broadcast_to(new, shape)


def _ok(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _write(dst: np.ndarray, src: np.ndarray, op: str) -> None:
    if src.dtype != dst.dtype and not np.can_cast(src.dtype, dst.dtype, casting="same_kind"):
        raise RuntimeError(
            f"{op}: result type {src.dtype} can't be cast to the tensor's dtype {dst.dtype}"
        )
    if src.shape != dst.shape and not _ok(src.shape, dst.shape):
        raise RuntimeError(
            f"{op}: value of shape {list(src.shape)} cannot be written into a tensor of shape "
            f"{list(dst.shape)}"
        )
    if src.shape != dst.shape and np.broadcast_shapes(src.shape, dst.shape) != dst.shape:
        raise RuntimeError(
            f"{op}: output with shape {list(dst.shape)} doesn't match the broadcast shape "
            f"{list(np.broadcast_shapes(src.shape, dst.shape))}"
        )
    np.copyto(dst, src, casting="unsafe")
