"""How the tests were launched."""

from __future__ import annotations

import os


def launched_size() -> int:
    """The number of processes mpiexec started (1 when run directly), read from its variables."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        if var in os.environ:
            return int(os.environ[var])
    return 1
