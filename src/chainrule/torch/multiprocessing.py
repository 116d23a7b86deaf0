"""torch.multiprocessing: Python's multiprocessing, for tensors in shared memory.

Tensors and modules moved into shared memory with ``share_memory_()`` / ``share_memory()`` are
shared with processes forked afterwards (the default start method on Linux), which is what
hogwild training needs. Under 'spawn' a child gets a copy instead.
"""

from __future__ import annotations

import multiprocessing as _mp
from multiprocessing import (
    Array,
    Barrier,
    Condition,
    Event,
    Lock,
    Manager,
    Pipe,
    Pool,
    Process,
    Queue,
    RLock,
    Semaphore,
    SimpleQueue,
    Value,
    active_children,
    cpu_count,
    current_process,
    get_all_start_methods,
    get_context,
    get_start_method,
    set_start_method,
)
from typing import Any

from chainrule.torch._missing import namespace_getattr

__all__ = [
    "Array", "Barrier", "Condition", "Event", "Lock", "Manager", "Pipe", "Pool", "Process",
    "Queue", "RLock", "Semaphore", "SimpleQueue", "Value", "active_children", "cpu_count",
    "current_process", "get_all_start_methods", "get_context", "get_sharing_strategy",
    "get_start_method", "set_sharing_strategy", "set_start_method", "spawn",
]


def get_sharing_strategy() -> str:
    """'file_system': shared memory is an anonymous mapping inherited by forked children."""
    return "file_system"


def set_sharing_strategy(strategy: str) -> None:
    """Accepted for compatibility; chainrule has one way to share memory."""


def spawn(fn: Any, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn") -> Any:
    """Run fn(i, *args) in nprocs processes, as torch.multiprocessing.spawn."""
    ctx = _mp.get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise RuntimeError(f"spawn: {len(bad)} of {nprocs} processes failed (exit codes {bad})")
    return None


__getattr__ = namespace_getattr(__name__)
