"""Reverse mode: walk the recorded nodes in decreasing creation order, applying vjp rules."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from chainrule.autodiff import function as _function
from chainrule.autodiff import hooks
from chainrule.autodiff.function import TensorContext, _name, check_finite, saved_tensors
from chainrule.autodiff.inplace import HISTORY, check_saved, node_at
from chainrule.autodiff.modes import STATE, enable_grad, no_grad
from chainrule.autodiff.sparse import IndexedCotangent
from chainrule.backend import array_like, asarray, is_array, is_device_array, namespace
from chainrule.tensor import Tensor

_FREED = (
    "backward: trying to backward through the graph a second time (or directly access saved "
    "values after they have been freed); the saved values of {op} were freed by an earlier "
    "backward. Pass retain_graph=True to the first backward to keep them."
)


def backward(
    root: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate the gradient of root into the .grad of every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no graph (did you compute it "
            "under no_grad, or from tensors without requires_grad=True?)"
        )
    # a grad that carries tangents stays a Tensor under forward levels (a jvp of backward)
    g = _root_cotangent(root, grad, create_graph or bool(STATE.fw_levels))
    run(root, g, retain_graph=retain_graph or create_graph, create_graph=create_graph)


def backward_to(
    root: Tensor, grad: Any, inputs: Any, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """backward(inputs=...): accumulate root's gradient into the .grad of inputs only."""
    if not root.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    tensor_mode = create_graph or bool(STATE.fw_levels)
    g = _root_cotangent(root, grad, tensor_mode)
    got = run(root, g, retain_graph=retain_graph or create_graph, create_graph=create_graph,
              inputs=ins)
    reached = {t: gi for t, gi in zip(ins, got or ()) if gi is not None}
    _accumulate(reached, tensor_mode, set())


def _root_cotangent(root: Tensor, grad: Any, tensor_mode: bool) -> Any:
    if grad is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs; the output "
                f"has shape {root._data.shape}, so pass grad= of that shape"
            )
        g = np.ones_like(root._data)
    else:
        g = grad._data if isinstance(grad, Tensor) and not tensor_mode else grad
        if not isinstance(g, Tensor):
            g = array_like(g, root._data, root._data.dtype)
        if g.shape != root._data.shape:
            raise ValueError(
                f"backward: grad of shape {g.shape} does not match the output's shape "
                f"{root._data.shape}"
            )
    return g


def run(
    root: Tensor,
    g: Any,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: list[Tensor] | None = None,
    link_saved: bool = True,
) -> list[Any] | None:
    """Backpropagate cotangent g (possibly batched on leading axes) from root.

    With ``inputs``, return the cotangent reaching each input (None where none does) and leave
    every .grad alone; otherwise accumulate into the leaves' .grad. With create_graph and
    ``link_saved=False`` the recorded backward links to g's graph only: the rules' saved values
    enter it as constants (keeping their tangents), so an outer backward through the result
    never walks into, nor frees, the forward graph (a vjp function differentiated in its
    cotangent, reusable as JAX's).
    """
    tensor_mode = create_graph or bool(STATE.fw_levels)
    if tensor_mode and not isinstance(g, Tensor):
        g = Tensor._make(asarray(g), False, None)
    elif not tensor_mode and isinstance(g, Tensor):
        g = g._data
    targets: dict[Any, int] = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            targets[t._node if t._node is not None else t] = i
    results: list[Any] = [None] * (len(inputs) if inputs is not None else 0)
    leaves: dict[Tensor, Any] = {}
    grads: dict[Any, Any] = {}
    heap: list[tuple[int, Any]] = []
    node = root._node
    if node is None:
        leaves[root] = g
    else:
        grads[node] = g
        heap.append((-node.seq, node))
    mode = enable_grad() if create_graph else no_grad()
    anomaly = STATE.anomaly
    last_write = STATE.last_write
    # hooked leaves by the seq of their last consumer; gate: the next seq at which work is due
    hooked = _hooked_leaves(root) if hooks.HOOKED and inputs is None else None
    gate = max(last_write, hooked[-1][0]) if hooked else last_write
    seen: set[int] = set()
    rebound = bool(HISTORY)
    rec = _function.RECORDER  # cr.compile recording this backward (compile/), else None
    if rec is not None:
        rec.backward_start(root, g, tensor_mode, bool(hooked))
    # ops with a sparse_vjp (indexing) give IndexedCotangents; each parent's sum is then one
    # buffer of this pass (own: node -> it, own_leaves: leaf -> it), added into in place
    sparse_ok = not tensor_mode and rec is None
    sparse = False
    own: dict[Any, Any] = {}
    own_leaves: dict[Tensor, Any] = {}
    pop, push = heapq.heappop, heapq.heappush
    # nxt: the one pending node when the heap is empty (a chain), processed next without a
    # trip through the heap: it is the node the heap would give
    nxt = None
    with mode:
        while True:
            if nxt is not None:
                node, nxt = nxt, None
            elif heap:
                node = pop(heap)[1]
            else:
                break
            g = grads.pop(node)
            if own:  # g goes to a rule that may keep or return it: no longer this pass's own
                own.pop(node, None)
            if targets and node in targets:
                results[targets[node]] = g
                continue
            args = node.args
            op = node.op
            if args is None:
                raise RuntimeError(_FREED.format(op=_name(op)))
            if gate > node.seq:
                if last_write > node.seq:
                    check_saved(node, _name(node.op))
                if hooked and hooked[-1][0] > node.seq:
                    _fire_until(node.seq, hooked, leaves, tensor_mode, seen)
                    gate = max(last_write, hooked[-1][0]) if hooked else last_write
            if tensor_mode:
                nb = g._data.ndim - node.out_ndim
                saved = saved_tensors(node, args, _out_of(node))
                if not link_saved:
                    saved = tuple(_constant(v) for v in saved)
                ctx: Any = TensorContext(node, saved, nb)
            else:
                node.batch = g.ndim - node.out_ndim
                ctx = node
                sparse = sparse_ok and op.sparse_vjp is not None
            gins = op.sparse_vjp(ctx, g) if sparse else op.vjp(ctx, g)
            if rec is not None:
                rec.vjp(node, args, gins)
            if not retain_graph:
                node.args = None
                node.saved = ()
                if op.forward_state:
                    for a in op.forward_state:
                        node.__dict__.pop(a, None)
            if type(gins) is not tuple:  # a single input's rule may return a bare cotangent
                gins = (gins,)
            for a, gi in zip(args, gins):
                if gi is None or not isinstance(a, Tensor):
                    continue
                if rebound:  # an in-place op rebound a's node after this node was recorded
                    p, req = node_at(a, node.seq)
                    if not req:
                        continue
                elif not a.requires_grad:
                    continue
                else:
                    p = a._node
                if anomaly:
                    check_finite(gi.values if sparse else gi, f"{_name(node.op)} (backward)",
                                 node)
                if p is None:
                    prev = leaves.get(a)
                    if prev is not None:
                        # in place only where it pays (see _BIG); a fresh sum otherwise
                        leaves[a] = (_sum(prev, gi, a, own_leaves) if sparse or (
                            type(prev) is ndarray and prev.size >= _BIG) else prev + gi)
                    elif sparse:
                        leaves[a] = own_leaves[a] = gi.dense()
                    else:
                        leaves[a] = gi
                elif p in grads:
                    prev = grads[p]
                    grads[p] = (_sum(prev, gi, p, own) if sparse or (
                        type(prev) is ndarray and prev.size >= _BIG) else prev + gi)
                else:
                    if sparse:
                        gi = own[p] = gi.dense()
                    grads[p] = gi
                    if nxt is None and not heap:
                        nxt = p
                    else:
                        if nxt is not None:
                            push(heap, (-nxt.seq, nxt))
                            nxt = None
                        push(heap, (-p.seq, p))
    if inputs is not None:
        for leaf, gl in leaves.items():
            if leaf in targets:
                results[targets[leaf]] = gl
        if rec is not None:
            rec.backward_results(targets, results)
        return results
    if hooked:
        _fire_until(-2, hooked, leaves, tensor_mode, seen)
    _accumulate(leaves, tensor_mode, seen)
    if rec is not None:
        rec.leaves(leaves)
    if hooks.CALLBACKS:
        hooks.run_callbacks()
    return None


def _hooked_leaves(root: Tensor) -> list[tuple[int, Tensor]]:
    """The hooked leaves this backward reaches, by increasing seq of their last consumer."""
    hooks.CALLBACKS.clear()  # left over by a backward that raised
    if root._node is None:
        return [(-1, root)] if id(root) in hooks.HOOKED else []
    return hooks.last_consumers(root._node)


def _fire_until(
    seq: int, hooked: list, leaves: dict[Tensor, Any], tensor_mode: bool, seen: set[int]
) -> None:
    """Accumulate and fire the hooked leaves whose last consumer's seq is above seq."""
    while hooked and hooked[-1][0] > seq:
        leaf = hooked.pop()[1]
        if leaf in leaves:  # else no cotangent reached it: as PyTorch, no hook
            _accumulate({leaf: leaves.pop(leaf)}, tensor_mode, seen)
            hooks.fire(leaf)


# Cotangent sums go in place (_sum) from this many elements: below, a fresh prev + gi costs less
# than the bookkeeping; device arrays and Tensors take the plain sum.
_BIG = 1024
ndarray = np.ndarray


def _sum(prev: Any, gi: Any, key: Any, own: dict) -> Any:
    """prev + gi, two cotangents of one value; in place when prev is this pass's own buffer
    (``own[key] is prev``), else the sum becomes one. gi may be an IndexedCotangent."""
    if own.get(key) is prev:
        if type(gi) is IndexedCotangent:
            if prev.shape == gi.shape and prev.dtype == gi.values.dtype:
                gi.add_into(prev)
                return prev
            gi = gi.dense()
        elif type(gi) is type(prev) and gi.shape == prev.shape and gi.dtype == prev.dtype:
            prev += gi
            return prev
    elif type(gi) is IndexedCotangent:
        if is_array(prev) and prev.shape == gi.shape and prev.dtype == gi.values.dtype:
            prev = own[key] = prev.copy()  # prev may be held elsewhere (a rule's output)
            gi.add_into(prev)
            return prev
        gi = gi.dense()
    out = prev + gi
    if is_array(out):
        own[key] = out
    return out


def _constant(v: Any) -> Any:
    """v outside any graph, with its tangents."""
    if not isinstance(v, Tensor) or not v.requires_grad:
        return v
    c = Tensor._make(v._data, False, None)
    c._tangents = v._tangents
    return c


def _out_of(node: Any) -> Any:
    """A factory for a Tensor standing for node's output (for rules that saved it)."""

    def make() -> Tensor:
        for s in node.saved:
            if id(s) == node.out_id:
                t = Tensor._make(asarray(s), True, node)
                t._tangents = getattr(node, "out_tangents", None)
                return t
        raise RuntimeError(f"{_name(node.op)}: output was not saved")

    return make


def _accumulate(leaves: dict[Tensor, Any], tensor_mode: bool, seen: set[int]) -> None:
    """Add each leaf's cotangent into its .grad, C-contiguous and in its own dtype.

    ``seen`` holds the ids of cotangents already adopted as a .grad in this pass (never twice).
    """
    for leaf, g in leaves.items():
        if tensor_mode:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
            continue
        if type(g) is not np.ndarray and not is_device_array(g):
            g = np.asarray(g)
        if g.dtype != leaf._data.dtype:
            g = g.astype(leaf._data.dtype)
        if leaf.grad is None:
            if not g.flags.owndata or not g.flags.c_contiguous or id(g) in seen:
                g = namespace(g).array(g, order="C")
            seen.add(id(g))
            leaf.grad = Tensor._make(g, False, None)
        elif leaf.grad._data.shape == g.shape and leaf.grad._data.flags.writeable:
            leaf.grad._data += g
        else:
            leaf.grad = Tensor._make(leaf.grad._data + g, False, None)
