"""Benchmark chainrule against PyTorch and hand-written NumPy on the same workloads.

Usage: python benchmarks/run.py [--quick] [--only NAME ...] [--threads N] [--json PATH]

Prints a table of median milliseconds per step and the ratios chainrule/PyTorch and
chainrule/NumPy. Exits 1 when any cell raised or gave a wrong result (torch missing is not an
error: its cells read "skipped"), so `--quick` doubles as a CI smoke test.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats, small sizes (CI smoke run)")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this workload (repeatable; see --list)",
    )
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per cell")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p.parse_args(argv)


def pin_threads(n: int) -> None:
    """Set thread counts; must run before NumPy or torch is imported to take effect."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def use_source_tree() -> None:
    """Let an uninstalled checkout import chainrule from src/ (here and in subprocesses)."""
    import importlib.util

    src = ROOT / "src"
    if importlib.util.find_spec("chainrule") is None and (src / "chainrule").is_dir():
        sys.path.insert(0, str(src))
        extra = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(src) + (os.pathsep + extra if extra else "")


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads, print the table, return the exit status."""
    args = parse_args(argv)
    if args.threads < 1:
        print("--threads must be at least 1", file=sys.stderr)
        return 2
    pin_threads(args.threads)
    use_source_tree()

    # Imported only now, so that NumPy and torch see the thread settings.
    import harness
    from workloads import WORKLOADS

    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:12s} {w.description}")
        return 0
    selected = WORKLOADS
    if args.only:
        known = {w.name for w in WORKLOADS}
        unknown = sorted(set(args.only) - known)
        if unknown:
            print(f"unknown workload(s) {unknown}; known: {sorted(known)}", file=sys.stderr)
            return 2
        selected = [w for w in WORKLOADS if w.name in args.only]

    if harness.framework_available("torch"):
        import torch

        torch.set_num_threads(args.threads)

    settings = harness.Settings.make(args.quick, args.threads, args.repeats)
    env = harness.environment(settings)
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    print(f"# {versions}; python {env['python']}")
    print(
        f"# {env['cpu_count']} CPUs ({env['processor']}), {args.threads} thread(s), "
        f"{'quick' if args.quick else 'full'} run, median of up to {settings.repeats} repeats"
    )
    print()

    def progress(msg: str) -> None:
        print(f"running {msg} ...", file=sys.stderr, flush=True)

    rows = harness.run_workloads(selected, settings, progress if sys.stderr.isatty() else None)
    print(harness.format_table(rows))
    print(
        f"\n# load average: {env['load_average_at_start']} at start, "
        f"{harness.load_average()} at end ({env['cpu_count']} CPUs)"
    )
    if args.json:
        harness.write_json(args.json, rows, env)
    return 1 if any(cell.failed for row in rows for cell in row.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
