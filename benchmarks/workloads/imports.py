"""Import time of each framework, measured inside a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

from harness import Case, Step, Workload

# The child times only the import statement, not interpreter start-up.
CHILD = "import time; t0 = time.perf_counter(); import {module}; print(time.perf_counter() - t0)"
# Bytecode is cached (as on a user's machine) but outside the source tree, so that the timing
# does not depend on PYTHONDONTWRITEBYTECODE or on a writable checkout; warm-up fills it.
PYCACHE = Path(tempfile.gettempdir()) / "chainrule-bench-pycache"


def child_env() -> dict[str, str]:
    """The parent's environment (threads, PYTHONPATH) with bytecode caching switched on."""
    env = os.environ.copy()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def import_seconds(module: str) -> float:
    """Seconds `import module` takes in a fresh subprocess."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(module=module)],
        capture_output=True,
        text=True,
        env=child_env(),
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
    note = "`import X` in a fresh subprocess, timed in the child, bytecode cached"
    return [Case("import", builders, self_timed=True, note=note, max_repeats=9)]


WORKLOAD = Workload("import", "time of `import chainrule` vs torch and numpy", cases)
