"""DistributedDataParallel: one model replica per process, gradients averaged by MPI allreduce.

Gradients are grouped into buckets in reverse order of registration (the order backward usually
produces them); after the first backward the buckets are rebuilt in the order it actually produced
them, as PyTorch does. A post-accumulate-grad hook on each parameter counts the bucket's ready
gradients; once a bucket is complete (and every bucket before it has started, so all processes
start the same collectives in the same order) its gradients are copied into one flat buffer and a
non-blocking ``Iallreduce`` starts, overlapping the rest of backward. When backward ends, a
queued callback waits for the allreduces and writes the averaged gradients back into ``.grad``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.autodiff.hooks import queue_callback
from chainrule.autodiff.modes import STATE
from chainrule.backend import asnumpy, move_like, on_device
from chainrule.distributed.collectives import broadcast, wait_all
from chainrule.distributed.process_group import default_group, mpi
from chainrule.distributed.staging import copy_back
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel together in one flat host buffer (CUDA gradients are
    staged through it)."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.zeros(self.offsets[-1], params[0]._data.dtype)
        self.ready: set[int] = set()
        self.request: Any = None

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes

    def complete(self) -> bool:
        return len(self.ready) == len(self.params)

    def pack(self) -> None:
        """Copy each gradient into the buffer (zeros for a parameter that got none)."""
        for p, start, stop in zip(self.params, self.offsets, self.offsets[1:]):
            seg = self.buffer[start:stop]
            if p.grad is None:
                seg.fill(0)
            else:
                seg[...] = asnumpy(p.grad._data).reshape(-1)

    def unpack(self, scale: float) -> None:
        """Write buffer * scale back into each parameter's ``.grad``."""
        self.buffer *= scale
        for p, start, stop in zip(self.params, self.offsets, self.offsets[1:]):
            seg = self.buffer[start:stop].reshape(p._data.shape)
            g = p.grad
            cuda = on_device(p._data)
            if g is None or g._data.shape != seg.shape or type(g._data) is not type(p._data) or (
                    not cuda and not g._data.flags.writeable):
                p.grad = Tensor._make(move_like(seg, p._data) if cuda else seg.copy(),
                                      False, None)
            else:
                copy_back(g._data, seg)


def _buckets(params: list[Parameter], cap_bytes: int) -> list[_Bucket]:
    """Consecutive runs of params, one dtype each, of at most cap_bytes (at least one param)."""
    out: list[_Bucket] = []
    run: list[Parameter] = []
    size = 0
    for p in params:
        if run and (size + p._data.nbytes > cap_bytes or p._data.dtype != run[0]._data.dtype):
            out.append(_Bucket(run))
            run, size = [], 0
        run.append(p)
        size += p._data.nbytes
    if run:
        out.append(_Bucket(run))
    return out


class DistributedDataParallel(Module):
    """Train ``module`` data-parallel: each process runs its own batch; backward averages.

    As PyTorch's: rank 0's parameters and buffers are broadcast at construction (after checking
    that every process holds the same names, shapes and dtypes: a mismatch raises on every rank);
    buffers are broadcast from rank 0 at each forward when ``broadcast_buffers``; ``no_sync()``
    skips the allreduce, letting gradients accumulate locally until a later synced backward.
    ``state_dict()`` keys start with 'module.'. ``last_wait_s`` holds the time the last
    backward spent waiting for communication after its engine walk ended.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        self.module = module
        self.process_group = default_group(process_group)
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.last_wait_s = 0.0
        self._world = self.process_group.size()
        self._check_same_model()
        self._sync_module_states()
        params = [p for p in module.parameters() if p.requires_grad]
        self._cap_bytes = int(bucket_cap_mb * 2**20)
        self._index = {id(p): i for i, p in enumerate(params)}
        self._set_buckets(params[::-1])
        self._observed: list[int] | None = []  # ready order in the first backward; then None
        self._next = 0  # the next bucket to launch
        self._armed = False  # a forward with sync expects its backward to reduce
        self._queued = False
        self._hooks = [p.register_post_accumulate_grad_hook(self._on_grad_ready) for p in params]

    # ----- construction -----
    def _signature(self) -> list[tuple[str, str, tuple, str]]:
        params = [("parameter", n, p._data.shape, p._data.dtype.name)
                  for n, p in self.module.named_parameters()]
        buffers = [("buffer", n, b._data.shape, b._data.dtype.name)
                   for n, b in self.module.named_buffers()]
        return params + buffers

    def _check_same_model(self) -> None:
        """Raise on every rank if any rank's names, shapes or dtypes differ from rank 0's.

        A digest of each rank's signature travels first, through a bounded wait; only on a
        mismatch are the signatures themselves (names, shapes, dtypes) gathered for the message.
        """
        mine = self._signature()
        if self._world == 1:
            return
        digest = np.frombuffer(hashlib.sha256(repr(mine).encode()).digest()[:8], np.int64)
        every = np.empty(self._world, np.int64)
        comm = self.process_group.comm
        wait_all([comm.Iallgather(digest, every)], self.process_group.timeout,
                 "DistributedDataParallel's model check")
        if (every == every[0]).all():
            return
        signatures = comm.allgather(mine)  # small metadata; arrays never go through pickle
        rank = int(np.flatnonzero(every != every[0])[0])
        why = _first_difference(signatures[0], signatures[rank], rank)
        raise RuntimeError(
            "DistributedDataParallel: every process must hold the same model (parameter and "
            f"buffer names, shapes, dtypes), but {why}"
        )

    def _sync_module_states(self) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if self._world == 1:
            return
        for _, p in self.module.named_parameters():
            broadcast(p, 0, self.process_group)
        for _, b in self.module.named_buffers():
            broadcast(b, 0, self.process_group)

    def _set_buckets(self, ordered: list[Parameter]) -> None:
        self._buckets = _buckets(ordered, self._cap_bytes)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}

    def _rebuild_buckets(self) -> None:
        """Bucket again in the order the first backward made gradients ready (rank 0's order).

        Registration order is only a guess at the order backward produces gradients; a model
        whose forward uses its layers in another order would otherwise wait for a bucket's
        last gradient until late in backward. Parameters that got no gradient go last.
        """
        params = list(self._index)  # ids, in registration order
        by_id = {id(p): p for b in self._buckets for p in b.params}
        seen = dict.fromkeys(self._observed or [])
        order = list(seen) + [i for i in range(len(params) - 1, -1, -1) if i not in seen]
        self._observed = None
        if self._world > 1:  # every rank must bucket alike: take rank 0's order
            buf = np.asarray(order, np.int64)
            wait_all([self.process_group.comm.Ibcast(buf, root=0)], self.process_group.timeout,
                     "DistributedDataParallel's bucket rebuild")
            order = buf.tolist()
        ordered = [by_id[params[i]] for i in order]
        if [id(p) for p in ordered] != [id(p) for b in self._buckets for p in b.params]:
            self._set_buckets(ordered)

    # ----- forward -----
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Run the module; arm the next backward to average gradients (unless in no_sync)."""
        if self.broadcast_buffers and self._world > 1:
            for _, b in self.module.named_buffers():
                broadcast(b, 0, self.process_group)
        self._armed = STATE.grad_enabled and self.require_backward_grad_sync
        self._next = 0
        for b in self._buckets:
            b.ready.clear()
            b.request = None
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communication."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ----- backward -----
    def _on_grad_ready(self, p: Parameter) -> None:
        if not self._armed:
            return
        if not self._queued:
            queue_callback(self._finalize)
            self._queued = True
        if self._observed is not None:
            self._observed.append(self._index[id(p)])
        self._bucket_of[id(p)].ready.add(id(p))
        self._launch_ready()

    def _launch_ready(self, force: bool = False) -> None:
        """Start the allreduce of each complete bucket, in bucket order (the same on all ranks)."""
        buckets = self._buckets
        while self._next < len(buckets) and (force or buckets[self._next].complete()):
            b = buckets[self._next]
            b.pack()
            if self._world > 1:
                MPI = mpi()
                b.request = self.process_group.comm.Iallreduce(MPI.IN_PLACE, b.buffer, MPI.SUM)
            self._next += 1
        if self._world > 1 and self._next:  # MPI progresses only inside MPI calls: nudge it
            mpi().Request.Testall([b.request for b in buckets[: self._next]])

    def _finalize(self) -> None:
        """After backward: start what is left, wait for every allreduce, write the averages."""
        self._queued = False
        if not self._armed:
            return
        self._armed = False
        self._launch_ready(force=True)  # buckets holding parameters that got no gradient
        start = time.perf_counter()
        if self._world > 1:
            wait_all([b.request for b in self._buckets], self.process_group.timeout,
                     "DistributedDataParallel's gradient allreduce")
        self.last_wait_s = time.perf_counter() - start
        scale = 1.0 / self._world
        for b in self._buckets:
            b.unpack(scale)
            b.request = None
        if self._observed is not None:
            self._rebuild_buckets()

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{b.nbytes / 2**20:.2f}" for b in self._buckets)
        return f"world_size={self._world}, buckets_mb=[{sizes}]"


def _first_difference(ours: list, theirs: list, rank: int) -> str:
    """'rank 1 has parameter fc.weight (3, 4) <f4 where rank 0 has ...'."""
    for a, b in zip(ours, theirs):
        if a != b:
            return (f"rank {rank} has {b[0]} {b[1]!r} {b[2]} {b[3]} where rank 0 has "
                    f"{a[0]} {a[1]!r} {a[2]} {a[3]}")
    return (f"rank {rank} has {len(theirs)} parameters and buffers where rank 0 has "
            f"{len(ours)}")
