"""A rank that dies mid-training makes the others stop within a bounded time, never hang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .launch import launched_size

SCRIPT = Path(__file__).with_name("faulty_rank.py")


def launch(how: str) -> tuple[int, str, float]:
    """mpiexec -n 2 faulty_rank.py how: (exit status, output, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYDRA_", "MPI"))}
    start = time.monotonic()
    proc = subprocess.run([shutil.which("mpiexec"), "-n", "2", sys.executable, str(SCRIPT), how],
                          capture_output=True, text=True, timeout=120, env=env)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


pytestmark = [
    pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec (the mpi extra)"),
    pytest.mark.skipif(launched_size() > 1, reason="launches its own mpiexec"),
]


def test_a_killed_rank_ends_the_run(needs_mpi):
    code, out, seconds = launch("kill")
    assert code != 0
    assert "finished" not in out
    assert seconds < 60


def test_a_rank_that_raises_makes_the_others_time_out_with_a_clear_error(needs_mpi):
    code, out, seconds = launch("raise")
    assert code != 0
    assert "rank 1 fails on purpose" in out
    assert "DistributedError" in out
    assert "did not complete within 5 s" in out
    assert "finished" not in out
    assert seconds < 60
