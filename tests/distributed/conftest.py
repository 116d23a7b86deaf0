"""Fixtures for chainrule.distributed: a process group for the whole session.

The same files run in the ordinary single-process run (a world of one) and under
``mpiexec -n 2 python -m pytest tests/distributed -q -p no:cacheprovider``; tests marked
``multiprocess`` need at least two processes and are skipped in a world of one. Every rank runs
the same tests in the same order, so collectives match up; the group's timeout turns a rank that
fails mid-collective into an error on the others instead of a hang.
"""

from __future__ import annotations

import pytest

import chainrule.distributed as dist

from .launch import launched_size

TIMEOUT_S = 120.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip multiprocess tests in a world of one; skip MPI tests without the extra."""
    skip_one = pytest.mark.skip(reason="needs mpiexec -n 2 (or more)")
    skip_mpi = pytest.mark.skip(reason="needs the mpi extra (mpi4py)")
    for item in items:
        if "multiprocess" in item.keywords and launched_size() < 2:
            item.add_marker(skip_one)
        if "needs_mpi" in item.fixturenames and not dist.is_available():
            item.add_marker(skip_mpi)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "multiprocess: needs two or more MPI processes")


@pytest.fixture(scope="session")
def needs_mpi() -> None:
    """The default process group, initialised once (mpi4py required)."""
    if not dist.is_initialized():
        dist.init_process_group("mpi", timeout=TIMEOUT_S)


@pytest.fixture
def world(needs_mpi: None) -> tuple[int, int]:
    """(rank, world size) of the initialised default group."""
    return dist.get_rank(), dist.get_world_size()
