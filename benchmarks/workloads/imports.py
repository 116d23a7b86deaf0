"""Import time of each framework, measured inside a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

from harness import Case, Step, Workload

# The child times only the import statement, not interpreter start-up.
CHILD = "import time; t0 = time.perf_counter(); import {module}; print(time.perf_counter() - t0)"


def import_seconds(module: str) -> float:
    """Seconds `import module` takes in a fresh subprocess (inherits env and PYTHONPATH)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(module=module)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        raise ImportError(f"import {module} failed in a subprocess: {lines[-1]}")
    return float(proc.stdout.strip().splitlines()[-1])


def timer(module: str) -> Step:
    """A self-timed step: one fresh-interpreter import of `module`, returning seconds."""
    return partial(import_seconds, module)


def cases(quick: bool) -> list[Case]:
    """A single self-timed case: `import <framework>` per column."""
    builders = {fw: partial(timer, fw) for fw in ("chainrule", "torch", "numpy")}
    note = "`import X` in a fresh python subprocess, timed in the child (start-up excluded)"
    return [Case("import", builders, self_timed=True, note=note, max_repeats=9)]


WORKLOAD = Workload("import", "time of `import chainrule` vs torch and numpy", cases)
