"""The default process group: MPI's world, through mpi4py, under torch.distributed's names.

mpi4py is imported only when a group is created, so ``import chainrule`` never needs it. Started
without ``mpiexec``, MPI makes a world of one process, and every collective still works.
"""

from __future__ import annotations

import datetime
import importlib.util
from typing import Any

MISSING_EXTRA = (
    "chainrule.distributed needs mpi4py and an MPI library: install the extra with "
    "pip install 'chainrule[mpi]' (mpi4py and the mpich wheel), or build mpi4py against a "
    "system MPI"
)


class DistributedError(RuntimeError):
    """A collective that failed or did not finish in time (another process died or hung)."""


def mpi() -> Any:
    """mpi4py's MPI module, or an ImportError naming the ``mpi`` extra."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:  # RuntimeError: mpi4py found no MPI library
        raise ImportError(f"{MISSING_EXTRA} ({e})") from e
    return MPI


def is_available() -> bool:
    """Whether mpi4py can be imported (the ``mpi`` extra is installed)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


class ProcessGroup:
    """A communicator: the processes of one group, each with its rank."""

    def __init__(self, comm: Any, timeout: float | None) -> None:
        self.comm = comm
        self.timeout = timeout
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()

    def rank(self) -> int:
        """This process's rank in the group."""
        return self._rank

    def size(self) -> int:
        """The number of processes in the group."""
        return self._size

    def __repr__(self) -> str:
        return f"ProcessGroup(backend='mpi', rank={self._rank}, size={self._size})"


class _World:
    group: ProcessGroup | None = None


_WORLD = _World()


def _seconds(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def init_process_group(
    backend: str | None = "mpi",
    init_method: str | None = None,
    timeout: datetime.timedelta | float | None = None,
    world_size: int = -1,
    rank: int = -1,
    **kwargs: Any,
) -> None:
    """Join the processes started by ``mpiexec`` (or a world of one) as the default group.

    Args:
        backend: "mpi" (the only one: every byte goes through MPI).
        init_method: accepted for PyTorch's signature; MPI's launcher already connects the ranks.
        timeout: the longest a collective's ``wait()`` may block (a ``timedelta`` or seconds);
            past it a DistributedError is raised instead of hanging. None: wait indefinitely.
        world_size, rank: if given, checked against what MPI reports.
    """
    if backend not in (None, "mpi", "MPI"):
        raise ValueError(
            f"init_process_group: chainrule supports backend='mpi' only, got {backend!r} "
            "(launch with mpiexec -n N)"
        )
    if _WORLD.group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    MPI = mpi()
    comm = MPI.COMM_WORLD.Dup()
    got_size, got_rank = comm.Get_size(), comm.Get_rank()
    if world_size not in (-1, None) and world_size != got_size:
        comm.Free()
        raise ValueError(
            f"init_process_group: world_size={world_size} but MPI started {got_size} processes"
        )
    if rank not in (-1, None) and rank != got_rank:
        comm.Free()
        raise ValueError(f"init_process_group: rank={rank} but MPI gave this process {got_rank}")
    _WORLD.group = ProcessGroup(comm, _seconds(timeout))


def is_initialized() -> bool:
    """Whether init_process_group has been called (and not destroyed)."""
    return _WORLD.group is not None


def default_group(group: ProcessGroup | None = None) -> ProcessGroup:
    """``group``, or the default group; ValueError when none is initialized."""
    if group is not None:
        return group
    if _WORLD.group is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _WORLD.group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank (0 ... world size - 1)."""
    return default_group(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes."""
    return default_group(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """'mpi'."""
    default_group(group)
    return "mpi"


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release the default group (MPI itself stays up until the process exits)."""
    g = default_group(group)
    if not g.comm.Is_inter() and g.comm != mpi().COMM_NULL:
        g.comm.Free()
    if g is _WORLD.group:
        _WORLD.group = None


def abort(code: int = 2, group: ProcessGroup | None = None) -> None:
    """Terminate every process of the group with exit status ``code`` (no hang in a peer)."""
    comm = group.comm if group is not None else mpi().COMM_WORLD
    comm.Abort(code)
