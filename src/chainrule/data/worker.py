"""Worker processes for DataLoader(num_workers=N), as PyTorch's: each worker gets tasks (index
batches, or "next batch" for an iterable dataset) on its own queue and answers on a shared one;
the main process hands out tasks round-robin, at most ``prefetch_factor`` per worker ahead, and
yields results in task order. Batches travel as plain ndarrays (Tensors are unwrapped and rebuilt);
a worker's exception comes back with its traceback text and is raised again in the main process.
"""

from __future__ import annotations

import itertools
import os
import queue
import random
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from chainrule.creation import manual_seed
from chainrule.data.collate import IterableFetcher, fetch_map
from chainrule.tensor import Tensor

_POLL_S = 0.5  # how often a waiting side checks that the other is still alive
_JOIN_S = 5.0  # how long shutdown waits for a worker before terminating it


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself: PyTorch's ``get_worker_info()`` fields."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process; None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker: its type and traceback text, raised again by reraise()."""

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        module = sys.modules.get(getattr(exc_type, "__module__", ""))
        # Only a type the main process can import by name travels; others become RuntimeError.
        importable = getattr(module, getattr(exc_type, "__qualname__", ""), None) is exc_type
        self.exc_type: type[BaseException] = exc_type if importable else RuntimeError  # type: ignore[assignment]
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self) -> None:
        """Raise the worker's exception type with a message holding the worker's traceback."""
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        try:
            error = self.exc_type(message)
        except Exception:
            raise RuntimeError(message) from None
        raise error


@dataclass(frozen=True)
class _StopMarker:
    """A worker's iterable dataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _Reset:
    """Start a new pass (persistent workers): a fresh iterator over an iterable dataset."""

    generation: int


class _WireTensor:
    """A Tensor on its way between processes: only its ndarray travels."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __reduce__(self) -> tuple[Any, ...]:
        return _WireTensor, (self.array,)


def to_wire(obj: Any) -> Any:
    """obj with every Tensor (in tuples, lists, dicts) replaced by its ndarray, for pickling."""
    if isinstance(obj, Tensor):
        return _WireTensor(obj._data)
    if isinstance(obj, tuple):
        items = [to_wire(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if type(obj) is list:
        return [to_wire(v) for v in obj]
    if type(obj) is dict:
        return {k: to_wire(v) for k, v in obj.items()}
    return obj


def from_wire(obj: Any) -> Any:
    """The inverse of to_wire."""
    if isinstance(obj, _WireTensor):
        return Tensor._make(obj.array, False, None)
    if isinstance(obj, tuple):
        items = [from_wire(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if type(obj) is list:
        return [from_wire(v) for v in obj]
    if type(obj) is dict:
        return {k: from_wire(v) for k, v in obj.items()}
    return obj


@dataclass
class LoadSpec:
    """What a worker needs to turn a task into a batch."""

    dataset: Any
    is_iterable: bool
    auto_collation: bool
    collate_fn: Callable[[Any], Any]
    batch_size: int | None
    drop_last: bool
    worker_init_fn: Callable[[int], None] | None


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's, NumPy's and chainrule's global generators as PyTorch seeds a worker's."""
    seed = (base_seed + worker_id) % 2**63
    random.seed(seed)
    manual_seed(seed)
    # PyTorch seeds NumPy's legacy global generator in each worker too.
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(1)[0])  # noqa: NPY002
    return seed


def worker_loop(spec: LoadSpec, index_queue: Any, result_queue: Any, done_event: Any,
                base_seed: int, worker_id: int, num_workers: int) -> None:
    """A worker process's body: answer ``(generation, task_id, indices)`` tasks until None."""
    global _worker_info
    parent = os.getppid()
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, spec.dataset)
        where = f"in DataLoader worker process {worker_id}"
        error: ExceptionWrapper | None = None
        fetcher: IterableFetcher | None = None
        try:
            if spec.worker_init_fn is not None:
                spec.worker_init_fn(worker_id)
            if spec.is_iterable:
                fetcher = _iterable_fetcher(spec)
        except Exception:
            error = ExceptionWrapper(where)
        ended = False
        while True:
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent:
                    break
                continue
            if task is None:
                break
            if isinstance(task, _Reset):
                ended = False
                if spec.is_iterable and error is None:
                    try:
                        fetcher = _iterable_fetcher(spec)
                    except Exception:
                        error = ExceptionWrapper(where)
                continue
            if done_event.is_set() or ended:
                continue
            generation, task_id, indices = task
            data: Any
            if error is not None:
                data, error = error, None
            else:
                try:
                    if fetcher is not None:
                        data = fetcher.fetch()
                    else:
                        data = fetch_map(spec.dataset, indices, spec.auto_collation,
                                         spec.collate_fn)
                except StopIteration:
                    data, ended = _StopMarker(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where)
            try:
                payload = bytes(ForkingPickler.dumps(to_wire(data)))
            except Exception:
                payload = bytes(ForkingPickler.dumps(ExceptionWrapper(where)))
            result_queue.put((generation, task_id, payload))
    except KeyboardInterrupt:
        pass  # the main process sees it too and shuts the workers down
    if done_event.is_set():
        result_queue.cancel_join_thread()
        result_queue.close()


def _iterable_fetcher(spec: LoadSpec) -> IterableFetcher:
    return IterableFetcher(spec.dataset, spec.auto_collation, spec.collate_fn, spec.batch_size,
                           spec.drop_last)


class WorkerPool:
    """``num_workers`` processes serving one LoadSpec; ``run(tasks)`` yields one pass's batches."""

    def __init__(self, spec: LoadSpec, num_workers: int, context: Any, base_seed: int,
                 prefetch_factor: int, timeout: float) -> None:
        self.spec = spec
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.timeout = timeout
        self.generation = 0
        self.closed = False
        self.result_queue = context.Queue()
        self.done_event = context.Event()
        self.index_queues: list[Any] = []
        self.workers: list[Any] = []
        for worker_id in range(num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            worker = context.Process(
                target=worker_loop, daemon=True,
                args=(spec, index_queue, self.result_queue, self.done_event, base_seed,
                      worker_id, num_workers))
            worker.start()
            self.index_queues.append(index_queue)
            self.workers.append(worker)

    def run(self, tasks: Iterator[Any]) -> Iterator[Any]:
        """The batches for tasks (index batches; for an iterable dataset, any endless iterator),
        in task order."""
        if self.closed:
            raise RuntimeError("DataLoader: its worker processes were shut down")
        self.generation += 1
        generation, n = self.generation, self.num_workers
        if generation > 1:
            for q in self.index_queues:
                q.put(_Reset(generation))
        active = [True] * n
        owner: dict[int, int] = {}  # task id -> worker, for tasks sent and not yet yielded
        arrived: dict[int, Any] = {}  # results that came before their turn
        cycle = itertools.cycle(range(n))
        sent = received = 0

        def send() -> None:
            nonlocal sent
            if not any(active):
                return
            indices = next(tasks, _END)
            if indices is _END:
                return
            worker_id = next(w for w in cycle if active[w])
            self.index_queues[worker_id].put((generation, sent, indices))
            owner[sent] = worker_id
            sent += 1

        for _ in range(max(1, self.prefetch_factor) * n):
            send()
        while True:
            # Tasks of an exhausted worker that sent nothing: that worker will never answer.
            while received < sent and received not in arrived and not active[owner[received]]:
                del owner[received]
                received += 1
            if received >= sent:
                return
            if received in arrived:
                data = arrived.pop(received)
            else:
                got_generation, task_id, payload = self._get()
                if got_generation != generation:
                    continue  # left over from an abandoned pass
                data = ForkingPickler.loads(payload)
                if isinstance(data, _StopMarker):
                    active[data.worker_id] = False
                    send()
                    continue
                if task_id != received:
                    arrived[task_id] = data
                    continue
            del owner[received]
            received += 1
            send()
            if isinstance(data, ExceptionWrapper):
                data.reraise()
            yield from_wire(data)

    def _get(self) -> Any:
        """The next result; raises when the timeout passes or a worker died."""
        waited = 0.0
        while True:
            wait = _POLL_S if not self.timeout else min(_POLL_S, self.timeout - waited)
            try:
                return self.result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                waited += wait
            if self.timeout and waited >= self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                pids = ", ".join(str(w.pid) for w in dead)
                codes = ", ".join(str(w.exitcode) for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                   f"(exit code {codes})")

    def shutdown(self) -> None:
        """Stop the workers (waiting briefly, then terminating) and close the queues."""
        if self.closed:
            return
        self.closed = True
        self.done_event.set()
        for q in self.index_queues:
            q.put(None)
        for w in self.workers:
            w.join(timeout=_JOIN_S)
            if w.is_alive():
                w.terminate()
                w.join()
        for q in (*self.index_queues, self.result_queue):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            self.shutdown()


_END: Any = object()
