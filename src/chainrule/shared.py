"""Tensors in shared memory, and how Tensors travel to other processes (not to files).

``share_memory_()`` moves a tensor's values into a named POSIX shared-memory block. A process
started afterwards sees the same memory: forked children inherit it, and a spawned child that
receives the tensor (pickled by multiprocessing, the only pickling chainrule does, and never to
a file) attaches to the block by name. This is what hogwild training with
``torch.multiprocessing`` needs. The creating process unlinks its blocks at exit.
"""

from __future__ import annotations

import atexit
import contextlib
from multiprocessing import resource_tracker, shared_memory
from typing import Any

import numpy as np

# id(storage ndarray) -> (storage ndarray, SharedMemory): kept alive for the process's lifetime
_BLOCKS: dict[int, tuple[np.ndarray, shared_memory.SharedMemory]] = {}
_CREATED: list[shared_memory.SharedMemory] = []


def _block_of(a: np.ndarray) -> shared_memory.SharedMemory | None:
    from chainrule.autodiff.inplace import storage

    entry = _BLOCKS.get(id(storage(a)))
    return entry[1] if entry is not None and entry[0] is storage(a) else None


def is_shared(a: np.ndarray) -> bool:
    """Whether a's memory is a shared-memory block."""
    return _block_of(a) is not None


def share(a: np.ndarray) -> np.ndarray:
    """a's values in a new shared-memory block (a itself when already shared)."""
    if is_shared(a):
        return a
    shm = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
    if not _CREATED:
        atexit.register(_unlink_all)
    _CREATED.append(shm)
    out = np.ndarray(a.shape, dtype=a.dtype, buffer=shm.buf)
    out[...] = a
    _BLOCKS[id(out)] = (out, shm)
    return out


def _unlink_all() -> None:
    for shm in _CREATED:
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()


def attach(name: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The shared block ``name`` as an array (in a process that did not create it)."""
    for arr, shm in _BLOCKS.values():
        if shm.name == name:
            return arr
    # The creator owns the block's lifetime: keep this process's tracker from unlinking it.
    register = resource_tracker.register
    resource_tracker.register = lambda *args: None
    try:
        shm = shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register
    out = np.ndarray(shape, dtype=np.dtype(dtype), buffer=shm.buf)
    _BLOCKS[id(out)] = (out, shm)
    return out


def reduce_tensor(t: Any) -> tuple:
    """How a Tensor is pickled for another process: shared blocks by name, else by value."""
    if t._node is not None and t.requires_grad:
        raise RuntimeError(
            "pickling a non-leaf tensor that requires grad: the graph cannot travel to another "
            "process; send t.detach() instead"
        )
    data = t._data
    entry = _BLOCKS.get(id(data))
    if entry is not None and entry[0] is data:  # a whole block (a view travels by value)
        return (_rebuild_shared, (type(t), entry[1].name, data.dtype.str, data.shape,
                                  t.requires_grad))
    return (_rebuild, (type(t), np.ascontiguousarray(data), t.requires_grad))


def _new(cls: type, data: np.ndarray, requires_grad: bool) -> Any:
    t = object.__new__(cls)
    t._data = data
    t.grad = None
    t._node = None
    t._tangents = None
    t.requires_grad = requires_grad
    return t


def _rebuild(cls: type, data: np.ndarray, requires_grad: bool) -> Any:
    return _new(cls, data, requires_grad)


def _rebuild_shared(cls: type, name: str, dtype: str, shape: tuple[int, ...],
                    requires_grad: bool) -> Any:
    return _new(cls, attach(name, dtype, shape), requires_grad)
