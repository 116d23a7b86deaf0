"""Collectives on Tensors, in place as torch.distributed's, run by MPI on the ndarray's buffer.

Each call starts a non-blocking MPI operation (``Iallreduce``, ``Ibcast``, ...) on the arrays
themselves, through mpi4py's buffer interface (no pickling), and returns a :class:`Work` when
``async_op=True``, else waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autodiff.inplace import mark_written
from chainrule.backend import asnumpy, is_device_array, on_device
from chainrule.distributed.process_group import (
    DistributedError,
    ProcessGroup,
    default_group,
    mpi,
)
from chainrule.distributed.staging import copy_back, to_host
from chainrule.tensor import Tensor


class ReduceOp:
    """The reductions of all_reduce and reduce_scatter (AVG: the sum divided by world size)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


def mpi_op(op: str) -> Any:
    """The MPI operation computing ``op`` (AVG sums; the division follows on completion)."""
    MPI = mpi()
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
             ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}
    if op not in table:
        raise ValueError(f"unknown reduce op {op!r}; use ReduceOp.SUM, AVG, PRODUCT, MAX or MIN")
    return table[op]


class Work:
    """A started collective: ``wait()`` blocks until it is done and its results are in place."""

    def __init__(self, requests: Sequence[Any], finish: Callable[[], None] | None,
                 timeout: float | None, what: str) -> None:
        self._requests = list(requests)
        self._finish = finish
        self._timeout = timeout
        self._what = what
        self._done = False

    def is_completed(self) -> bool:
        """Whether the operation has finished (finishing it if MPI says so)."""
        if not self._done and mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (at most ``timeout`` seconds, else the group's; None: no bound).

        Raises DistributedError if the bound passes first (a peer died or never joined).
        """
        if self._done:
            return True
        limit = self._timeout if timeout is None else _seconds(timeout)
        wait_all(self._requests, limit, self._what)
        self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()

    def result(self) -> list:
        """Empty, as PyTorch's for in-place collectives."""
        return []


# MPI moves a collective only inside MPI calls, and a sleep costs at least ~60 us on Linux:
# waits poll without sleeping for this long (as MPI's own Waitall does), then back off.
SPIN_S = 0.05


def wait_all(requests: list, timeout: float | None, what: str) -> None:
    """Wait for MPI requests, at most ``timeout`` seconds (None: no bound).

    Raises DistributedError when the bound passes first, instead of hanging on a dead peer.
    """
    MPI = mpi()
    if timeout is None:
        MPI.Request.Waitall(requests)
        return
    start = time.monotonic()
    deadline, pause = start + timeout, 1e-5
    spin_until = start + SPIN_S
    while not MPI.Request.Testall(requests):
        now = time.monotonic()
        if now > deadline:
            raise DistributedError(
                f"{what} did not complete within {timeout:g} s: another process has probably "
                "died or stopped calling collectives"
            )
        if now > spin_until:  # a long wait: poll less often, leave the core to others
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)


def _seconds(timeout: Any) -> float:
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)


def _array(t: Any, what: str) -> np.ndarray:
    data = t._data if isinstance(t, Tensor) else t
    if is_device_array(data):
        return data  # a CUDA array: staged through a host copy (MPI moves host memory)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{what}: expected a Tensor or ndarray, got {type(t).__name__}")
    if not data.flags.writeable:
        raise ValueError(f"{what}: the tensor's memory is read-only")
    return data


def _contiguous(data: np.ndarray) -> tuple[np.ndarray, Callable[[], None] | None]:
    """A C-contiguous host buffer for data, and how to copy results back (None: data itself);
    a CUDA array's is a host copy."""
    if not on_device(data) and data.flags.c_contiguous:
        return data, None
    buf = to_host(data)
    return buf, lambda: copy_back(data, buf)


def _run(requests: list, finishers: list, group: ProcessGroup, async_op: bool,
         what: str) -> Work | None:
    def finish() -> None:
        for f in finishers:
            f()

    work = Work(requests, finish, group.timeout, what)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Any, op: str = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all processes, leaving the result in ``tensor`` on every one."""
    g = default_group(group)
    data = _array(tensor, "all_reduce")
    if op == ReduceOp.AVG and data.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {data.dtype}")
    buf, back = _contiguous(data)
    req = g.comm.Iallreduce(mpi().IN_PLACE, buf, op=mpi_op(op))
    finishers = []
    if op == ReduceOp.AVG:
        size = g.size()
        finishers.append(lambda: np.divide(buf, size, out=buf))
    if back is not None:
        finishers.append(back)
    finishers.append(lambda: mark_written(data))
    return _run([req], finishers, g, async_op, "all_reduce")


def broadcast(tensor: Any, src: int = 0, group: ProcessGroup | None = None,
              async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every process."""
    g = default_group(group)
    _check_rank(src, g, "broadcast")
    data = _array(tensor, "broadcast")
    buf, back = _contiguous(data)
    req = g.comm.Ibcast(buf, root=src)
    finishers = [back] if back is not None else []
    finishers.append(lambda: mark_written(data))
    return _run([req], finishers, g, async_op, "broadcast")


def all_gather(tensor_list: list, tensor: Any, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` on every process."""
    g = default_group(group)
    if len(tensor_list) != g.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {g.size()}")
    src = to_host(_array(tensor, "all_gather"))
    outs = [_array(t, "all_gather") for t in tensor_list]
    _same_shapes(outs, src, "all_gather")
    recv = np.empty((g.size(), *src.shape), src.dtype)
    req = g.comm.Iallgather(src, recv)

    def scatter_back() -> None:
        for i, out in enumerate(outs):
            copy_back(out, recv[i])
            mark_written(out)

    return _run([req], [scatter_back], g, async_op, "all_gather")


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """``output_tensor`` (world size times ``input_tensor``'s first axis) gets every rank's."""
    g = default_group(group)
    src = to_host(_array(input_tensor, "all_gather_into_tensor"))
    out = _array(output_tensor, "all_gather_into_tensor")
    if out.size != src.size * g.size() or out.dtype != src.dtype:
        raise ValueError(f"all_gather_into_tensor: output {out.shape} {out.dtype} does not hold "
                         f"{g.size()} x input {src.shape} {src.dtype}")
    buf, back = _contiguous(out)
    req = g.comm.Iallgather(src, buf)
    finishers = [back] if back is not None else []
    finishers.append(lambda: mark_written(out))
    return _run([req], finishers, g, async_op, "all_gather_into_tensor")


def reduce_scatter(output: Any, input_list: list, op: str = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Reduce ``input_list[i]`` over all processes into ``output`` on rank i."""
    g = default_group(group)
    if len(input_list) != g.size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors for a world "
                         f"of {g.size()}")
    out = _array(output, "reduce_scatter")
    ins = [_array(t, "reduce_scatter") for t in input_list]
    _same_shapes(ins, out, "reduce_scatter")
    return _reduce_scatter(out, np.stack([asnumpy(a) for a in ins]), op, g, async_op)


def reduce_scatter_tensor(output: Any, input: Any, op: str = ReduceOp.SUM,
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (world size blocks along its first axis) and keep block ``rank``."""
    g = default_group(group)
    out = _array(output, "reduce_scatter_tensor")
    src = _array(input, "reduce_scatter_tensor")
    if src.size != out.size * g.size() or src.dtype != out.dtype:
        raise ValueError(f"reduce_scatter_tensor: input {src.shape} {src.dtype} is not "
                         f"{g.size()} x output {out.shape} {out.dtype}")
    return _reduce_scatter(out, to_host(src), op, g, async_op)


def _reduce_scatter(out: np.ndarray, send: np.ndarray, op: str, g: ProcessGroup,
                    async_op: bool) -> Work | None:
    if op == ReduceOp.AVG and out.dtype.kind not in "fc":
        raise TypeError(f"reduce_scatter: ReduceOp.AVG needs a floating tensor, got {out.dtype}")
    buf, back = _contiguous(out)
    req = g.comm.Ireduce_scatter_block(send, buf, op=mpi_op(op))
    finishers: list = []
    if op == ReduceOp.AVG:
        size = g.size()
        finishers.append(lambda: np.divide(buf, size, out=buf))
    if back is not None:
        finishers.append(back)
    finishers.append(lambda: mark_written(out))
    return _run([req], finishers, g, async_op, "reduce_scatter")


def barrier(group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Wait until every process has reached this call."""
    g = default_group(group)
    return _run([g.comm.Ibarrier()], [], g, async_op, "barrier")


def _check_rank(rank: int, g: ProcessGroup, what: str) -> None:
    if not 0 <= rank < g.size():
        raise ValueError(f"{what}: rank {rank} is not in a world of {g.size()}")


def _same_shapes(arrays: list, like: np.ndarray, what: str) -> None:
    for a in arrays:
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(f"{what}: every tensor must be {like.shape} {like.dtype}, got "
                             f"{a.shape} {a.dtype}")
