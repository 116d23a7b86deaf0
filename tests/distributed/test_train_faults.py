"""`mpiexec -n 2 chainrule train` in which one rank fails: every process ends, status non-zero,
a one-line chainrule message, within a bounded time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .launch import launched_size

SCRIPT = Path(__file__).with_name("faulty_train.py")
TRAIN = ["--epochs", "1", "--no-progress", "--hidden", "16", "--dist-timeout", "3"]


def launch(how: str, out: Path) -> tuple[int, str, float]:
    """mpiexec -n 2 faulty_train.py how TRAIN: (exit status, stderr + stdout, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYDRA_", "MPI"))}
    start = time.monotonic()
    proc = subprocess.run([shutil.which("mpiexec"), "-n", "2", sys.executable, str(SCRIPT), how,
                           *TRAIN, "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    return proc.returncode, proc.stderr + proc.stdout, time.monotonic() - start


pytestmark = [
    pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec (the mpi extra)"),
    pytest.mark.skipif(launched_size() > 1, reason="launches its own mpiexec"),
]


def chainrule_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("chainrule train:")]


def test_a_rank_that_raises_ends_every_rank_with_status_2(needs_mpi, tmp_path):
    code, out, seconds = launch("raise", tmp_path)
    assert code == 2, out
    assert chainrule_lines(out) == [
        "chainrule train: error: rank 1: RuntimeError: rank 1 fails on purpose"], out
    assert "Traceback" not in out
    assert "test accuracy" not in out
    assert seconds < 30


def test_a_hung_rank_makes_the_others_fail_after_the_timeout(needs_mpi, tmp_path):
    code, out, seconds = launch("hang", tmp_path)
    assert code == 2, out
    [line] = chainrule_lines(out)
    assert line.startswith("chainrule train: error: rank 0: DistributedError:"), out
    assert "did not complete within 3 s" in line
    assert seconds < 30


def test_a_killed_rank_ends_the_run(needs_mpi, tmp_path):
    code, out, seconds = launch("kill", tmp_path)
    assert code != 0
    assert "test accuracy" not in out
    assert seconds < 30
