"""Post-accumulate-grad hooks on leaves, and callbacks run when a backward pass ends.

The registry is a module-level dict keyed by ``id(leaf)``, so a backward pass with no hook
anywhere pays one truthiness test; the leaves themselves carry nothing extra.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from chainrule.autodiff.inplace import HISTORY, node_at
from chainrule.tensor import Tensor

# id(leaf) -> (weak reference to the leaf, {handle id: hook}); an entry leaves with its last hook
HOOKED: dict[int, tuple[weakref.ref, dict[int, Callable[[Any], None]]]] = {}
# callbacks queued during a backward pass, run once it has accumulated every gradient
CALLBACKS: list[Callable[[], None]] = []
_next_handle = iter(range(1 << 62)).__next__


class RemovableHandle:
    """What registering a hook returns: ``remove()`` unregisters it (idempotent)."""

    def __init__(self, key: int, handle_id: int) -> None:
        self._key = key
        self.id = handle_id

    def remove(self) -> None:
        """Unregister the hook; the leaf leaves the registry with its last hook."""
        entry = HOOKED.get(self._key)
        if entry is None:
            return
        entry[1].pop(self.id, None)
        if not entry[1]:
            del HOOKED[self._key]

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def register_post_accumulate_grad_hook(
    leaf: Tensor, hook: Callable[[Any], None]
) -> RemovableHandle:
    """Call ``hook(leaf)`` in each backward pass right after leaf's ``.grad`` is final.

    As PyTorch's ``Tensor.register_post_accumulate_grad_hook``: only on leaves that require grad;
    the hook returns None and may read or modify ``leaf.grad`` in place.
    """
    if leaf._node is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered "
            "on non-leaf tensors"
        )
    if not leaf.requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't "
            "require gradient"
        )
    key = id(leaf)
    entry = HOOKED.get(key)
    if entry is None or entry[0]() is not leaf:
        entry = (weakref.ref(leaf, _forget(key)), {})
        HOOKED[key] = entry
    handle_id = _next_handle()
    entry[1][handle_id] = hook
    return RemovableHandle(key, handle_id)


def _forget(key: int) -> Callable[[Any], None]:
    table = HOOKED  # bound now: at interpreter exit the module's globals may be gone

    def callback(ref: Any) -> None:
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]

    return callback


def queue_callback(fn: Callable[[], None]) -> None:
    """Run ``fn()`` once the current backward pass has accumulated every leaf's gradient.

    As ``torch.autograd.Variable._execution_engine.queue_callback``: meant to be called from a
    hook during backward (DistributedDataParallel waits for its allreduces there).
    """
    CALLBACKS.append(fn)


def run_callbacks() -> None:
    """Run and clear the queued callbacks (including any that they queue)."""
    while CALLBACKS:
        CALLBACKS.pop(0)()


def last_consumers(root_node: Any) -> list[tuple[int, Any]]:
    """For each hooked leaf reachable from root_node: (smallest seq of a node using it, leaf).

    Sorted by increasing seq, so the walk, which visits nodes in decreasing seq, pops from the
    end: once it reaches a node below a leaf's seq, that leaf can receive no more cotangent.
    """
    first: dict[int, list] = {}
    seen = {id(root_node)}
    stack = [root_node]
    rebound = bool(HISTORY)
    while stack:
        node = stack.pop()
        args = node.args
        if args is None:  # freed: the walk raises on it
            continue
        for a in args:
            if not isinstance(a, Tensor):
                continue
            p, req = node_at(a, node.seq) if rebound else (a._node, a.requires_grad)
            if not req:
                continue
            if p is None:
                if id(a) in HOOKED:
                    entry = first.get(id(a))
                    if entry is None:
                        first[id(a)] = [node.seq, a]
                    elif node.seq < entry[0]:
                        entry[0] = node.seq
            elif id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return sorted(((s, a) for s, a in first.values()), key=itemgetter(0))


def fire(leaf: Any) -> None:
    """Call leaf's post-accumulate-grad hooks in registration order."""
    entry = HOOKED.get(id(leaf))
    if entry is not None and entry[0]() is leaf:
        for hook in list(entry[1].values()):
            hook(leaf)
