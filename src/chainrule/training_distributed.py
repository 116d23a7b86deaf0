"""`chainrule train` data-parallel on MPI: the loop of training.py, one shard of each batch per
process.

``mpiexec -n N chainrule train ...`` runs the single-process training with the same global batch
and learning rate: global batch k is the same set of samples as in the single-process run (the
loader's shuffled order, sharded by a DistributedSampler: rank r takes positions r, r + N, ...),
each process takes ``batch_size / N`` of it, and DistributedDataParallel averages the gradients.
Rank 0 alone shows progress, prints and writes the run folder; metrics are summed over ranks. The
checkpoint has the single-process format, so a run resumes exactly, on any number of processes:
rank 0 draws (dropout masks) from the single-process run's random stream, saved in the
checkpoint, and rank r > 0 from a stream seeded by (seed, r, step) at every checkpoint. Any failing
rank prints one line and
ends every process with status 2; collectives wait at most ``timeout`` seconds, so a dead or hung
peer is an error, never a hang.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader, DistributedSampler, Subset
from chainrule.nn.parallel import DistributedDataParallel
from chainrule.training import (
    TrainConfig,
    TrainError,
    TrainResult,
    _blas_threads,
    _Run,
    _train,
    evaluate,
    prepare,
)

DEFAULT_TIMEOUT_S = 300.0
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID")


def launched_size() -> int:
    """The number of processes mpiexec started, from its environment (1 without mpiexec)."""
    for var in _SIZE_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return 1


def launched_rank() -> int:
    """This process's rank, from mpiexec's environment (0 without mpiexec)."""
    for var in _RANK_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return 0


class LoaderOrderSampler(DistributedSampler):
    """A DistributedSampler over the single-process DataLoader's order of epoch ``e``,
    ``default_rng([seed, e]).permutation(n)``: global batch k is the single-process batch k."""

    def order(self, n: int) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)


class ShardedLoader(DataLoader):
    """A DataLoader that moves its sampler to the epoch it is about to yield (resume included)."""

    def _batches(self, epoch: int, start: int, owner: object) -> Iterator[Any]:
        self.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        return super()._batches(epoch, start, owner)


def _sum(values: list[float]) -> np.ndarray:
    """values summed over every rank (float64)."""
    buf = np.array(values, np.float64)
    dist.all_reduce(buf)
    return buf


def check_batch_size(cfg: TrainConfig, world: int) -> None:
    """TrainError unless the global batch splits evenly over ``world`` processes."""
    if cfg.batch_size is None or cfg.batch_size % world:
        raise TrainError(f"--batch-size {cfg.batch_size} must be divisible by the number of "
                         f"processes ({world})")


def _reseed(seed: int, rank: int, step: int) -> None:
    """Start rank ``rank``'s own random stream at ``step`` (dropout masks differ between ranks);
    rank 0 keeps the single-process run's stream."""
    if rank:
        cr.manual_seed(int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0]))


class DistributedRun(_Run):
    """A run whose model is wrapped in DistributedDataParallel and whose loader is one shard."""

    def __init__(self, cfg: TrainConfig, saved_model: Mapping[str, Any] | None = None) -> None:
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        check_batch_size(cfg, self.world)
        super().__init__(cfg, saved_model)
        self.net = DistributedDataParallel(self.model)
        self.writer = self.rank == 0
        self.sampler = LoaderOrderSampler(self.train_set, self.world, self.rank, seed=cfg.seed)
        self.loader = ShardedLoader(self.train_set, batch_size=cfg.batch_size // self.world,
                                    sampler=self.sampler, seed=cfg.seed)
        _reseed(cfg.seed, self.rank, 0)

    def totals(self) -> dict[str, Any]:
        """This epoch's loss sum, correct count and samples seen, over every rank."""
        loss, correct, seen = _sum([self.sums["loss"], self.sums["correct"], self.sums["seen"]])
        return {"loss": float(loss), "correct": int(correct), "seen": int(seen)}

    def evaluate(self) -> tuple[float, float]:
        """Each rank evaluates every world-th test sample; the sums are added up."""
        part = Subset(self.test_set, range(self.rank, len(self.test_set), self.world))
        n = len(part)
        loss, acc = evaluate(self.model, part) if n else (0.0, 0.0)
        total_loss, correct, seen = _sum([loss * n, round(acc * n), n])
        return float(total_loss / max(seen, 1)), float(correct / max(seen, 1))

    def state(self) -> dict[str, Any]:
        """The single-process checkpoint: global loader position, metrics summed over ranks,
        rank 0's random state. A collective: every rank calls it."""
        state = super().state()
        state["loader"] = {**state["loader"], "shuffle": True, "batch_size": self.cfg.batch_size}
        state["progress"] = {"epoch": self.epoch, "step": self.step, **self.totals()}
        return state

    def save(self, path: Path) -> None:
        """Every rank gathers the state; rank 0 writes it (atomically); ranks > 0 reseed."""
        state = self.state()
        if self.writer:
            cr.save(state, path)
        _reseed(self.cfg.seed, self.rank, self.step)

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint of a run on any number of processes."""
        single = DataLoader(self.train_set, batch_size=self.cfg.batch_size, shuffle=True,
                            seed=self.cfg.seed)
        single.load_state_dict(state["loader"])  # checks it, as the single-process run does
        local = {**state["loader"], "shuffle": False, "batch_size": self.loader.batch_size}
        super().restore({**state, "loader": local})
        if self.rank:  # rank 0 carries the epoch's sums so far; the others start from zero
            self.sums = {"loss": 0.0, "correct": 0, "seen": 0}
        _reseed(self.cfg.seed, self.rank, self.step)  # as the run did after saving


def train_distributed(cfg: TrainConfig | None = None, resume: str | Path | None = None,
                      on_step: Callable[[int], None] | None = None,
                      log: Callable[[str], None] = print, *,
                      overrides: Mapping[str, Any] | None = None, allow_nan: bool = False,
                      timeout: float = DEFAULT_TIMEOUT_S) -> TrainResult:
    """training.train on every process of the MPI world (joined here if not yet).

    Every rank returns the same result; rank 0 alone writes the run folder, shows progress and
    calls ``log``. ``timeout``: the longest any collective waits (seconds). ``overrides`` and
    ``allow_nan``: as training.train's.
    """
    cfg, state = prepare(cfg, resume, overrides=overrides, allow_nan=allow_nan)
    make_run: Callable[[TrainConfig], _Run] = (
        DistributedRun if state is None
        else functools.partial(DistributedRun, saved_model=state["model"]))
    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("mpi", timeout=timeout)
    try:
        if dist.get_rank():
            cfg.progress = False
            log = _quiet
        with _blas_threads(cfg.threads):
            return _train(cfg, state, resume, on_step, log, make_run)
    finally:
        if own_group and sys.exc_info()[0] is None:
            dist.destroy_process_group()


def _hand_over_output() -> None:
    """Close stdout and stderr and give mpiexec a moment to forward them.

    MPI_Abort kills the launcher's forwarding process too, and what a rank wrote just before
    can be lost with it: closing the streams sends EOF, and the pause lets it drain first.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            os.close(stream.fileno())
        except (OSError, ValueError):
            pass
    time.sleep(0.3)


def _quiet(line: str) -> None:
    """The log of ranks other than 0."""


def run_cli(cfg: TrainConfig | None, resume: str | None, timeout: float, *,
            overrides: Mapping[str, Any] | None = None, allow_nan: bool = False) -> int:
    """`chainrule train` on this process of an MPI launch; returns the exit status.

    On any error this rank prints one line and MPI ends every process with status 2. Ranks other
    than 0 wait a moment first, so an error every rank shares is reported once, by rank 0.
    """
    rank = launched_rank()
    try:
        check_batch_size(prepare(cfg, resume, overrides=overrides, allow_nan=allow_nan)[0],
                         launched_size())
    except TrainError as e:  # the same on every rank, before MPI starts: rank 0 says it
        if rank == 0:
            print(f"chainrule train: error: {e}", file=sys.stderr)
        return 2
    try:
        result = train_distributed(cfg, resume, overrides=overrides, allow_nan=allow_nan,
                                   timeout=timeout)
    except ImportError as e:  # the mpi extra is missing: no MPI to end the others
        print(f"chainrule train: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        if rank:
            time.sleep(0.5)
        what = str(e) if isinstance(e, TrainError) else f"{type(e).__name__}: {e}"
        where = f"rank {rank}: " if launched_size() > 1 else ""
        print(f"chainrule train: error: {where}{' '.join(what.split())}", file=sys.stderr,
              flush=True)
        _hand_over_output()
        dist.abort(2)
        return 2
    if rank == 0:
        print(f"test accuracy {result.test_accuracy:.4f} (loss {result.test_loss:.4f}) after "
              f"{result.epochs} epochs in {result.seconds:.1f} s on {launched_size()} "
              f"processes; run folder {result.run_dir}")
    return 0
