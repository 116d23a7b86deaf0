"""Timing harness: workloads as data, interleaved repeats, medians, checks, table and JSON."""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

FRAMEWORKS = ("chainrule", "compiled", "torch", "numpy")  # compiled: chainrule under cr.compile
REFERENCE = "numpy"

Step = Callable[[], Any]
Builder = Callable[[], Step]


@dataclass(frozen=True)
class Settings:
    """How hard to measure: repeats, warm-up and time budgets (seconds)."""

    quick: bool
    threads: int
    repeats: int
    warmup_calls: int
    warmup_time: float
    min_repeat_time: float
    cell_budget: float

    @classmethod
    def make(cls, quick: bool, threads: int, repeats: int | None = None) -> Settings:
        """Defaults for a full run or a quick (CI smoke) run."""
        if quick:
            return cls(quick, threads, repeats or 3, 1, 0.0, 0.0, 2.0)
        return cls(quick, threads, repeats or 21, 3, 0.3, 0.05, 30.0)


@dataclass(frozen=True)
class Case:
    """One table row: the same computation written once per framework.

    Each builder prepares inputs outside the timed region and returns a zero-argument step.
    A step returns its result (checked against the NumPy cell), or, when `self_timed`, the
    duration in seconds it measured itself (e.g. inside a subprocess).
    """

    name: str
    builders: Mapping[str, Builder]
    self_timed: bool = False
    rtol: float = 1e-3
    note: str = ""
    max_repeats: int | None = None


@dataclass(frozen=True)
class Workload:
    """A named family of cases; `cases(quick)` may pick smaller sizes in quick mode."""

    name: str
    description: str
    cases: Callable[[bool], list[Case]]


@dataclass
class Cell:
    """The measurement of one framework on one case."""

    framework: str
    status: str = "ok"  # ok | skipped | error | wrong
    message: str = ""
    number: int = 1
    samples_s: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float | None:
        """Median time per step in milliseconds, or None when not measured."""
        if self.status != "ok" or not self.samples_s:
            return None
        return 1e3 * statistics.median(self.samples_s)

    @property
    def failed(self) -> bool:
        """True when the cell raised or gave a wrong result (skipped is not a failure)."""
        return self.status in ("error", "wrong")


@dataclass
class Row:
    """The measurements of one case across frameworks."""

    workload: str
    case: str
    note: str
    cells: dict[str, Cell]

    def ratio(self, num: str, den: str) -> float | None:
        """Median of `num` over median of `den`, or None when either is missing."""
        a, b = self.cells[num].median_ms, self.cells[den].median_ms
        return None if a is None or b is None or b == 0 else a / b


def framework_available(name: str) -> bool:
    """True when the framework's package can be found (torch is optional)."""
    return importlib.util.find_spec(name) is not None


def describe_error(exc: BaseException) -> str:
    """One line naming the exception and where in chainrule/benchmark code it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('/', 2)[-1]}:{last.lineno} in {last.name})"
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}{where}"


def to_numpy(value: Any) -> Any:
    """Convert a framework result (Tensor, tuple of Tensors, ndarray) to ndarrays."""
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def compare(got: Any, want: Any, rtol: float) -> str:
    """Empty string when `got` matches `want` (shape, dtype, values), else what differs."""
    got, want = to_numpy(got), to_numpy(want)
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return f"expected {len(want)} outputs, got {type(got).__name__}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            problem = compare(g, w, rtol)
            if problem:
                return f"output {i}: {problem}"
        return ""
    if got is None:
        return "result is None"
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0
    if not math.isfinite(err) or err > rtol * max(scale, 1e-30):
        return f"max abs error {err:.3g} vs scale {scale:.3g} (rtol {rtol:g})"
    return ""


def time_calls(step: Step, number: int) -> float:
    """Seconds per call of `step`, averaged over `number` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - start) / number


def warm_up(step: Step, settings: Settings, self_timed: bool) -> tuple[Any, float]:
    """Call `step` until warm; return the last result and the fastest call's duration."""
    result, fastest = None, math.inf
    calls, start = 0, time.perf_counter()
    while calls < max(1, settings.warmup_calls) or (
        not self_timed and time.perf_counter() - start < settings.warmup_time
    ):
        t0 = time.perf_counter()
        result = step()
        fastest = min(fastest, float(result) if self_timed else time.perf_counter() - t0)
        calls += 1
    return result, fastest


def run_case(workload: str, case: Case, settings: Settings, torch_ok: bool) -> Row:
    """Build, warm, check and time every framework's cell of one case, repeats interleaved."""
    gc.collect()
    try:
        return _run_case(workload, case, settings, torch_ok)
    finally:
        gc.unfreeze()


def _run_case(workload: str, case: Case, settings: Settings, torch_ok: bool) -> Row:
    """run_case's body; the caller unfreezes the garbage collector afterwards."""
    cells = {fw: Cell(fw) for fw in FRAMEWORKS}
    steps: dict[str, Step] = {}
    outputs: dict[str, Any] = {}
    per_call: dict[str, float] = {}
    for fw in FRAMEWORKS:
        cell = cells[fw]
        if fw not in case.builders:
            cell.status, cell.message = "skipped", "not applicable"
            continue
        if fw == "torch" and not torch_ok:
            cell.status, cell.message = "skipped", "torch not installed"
            continue
        try:
            steps[fw] = case.builders[fw]()
        except Exception as exc:
            cell.status, cell.message = "error", describe_error(exc)
    # Objects alive before timing (modules, inputs; torch alone brings ~150k) are not part of
    # the workload: frozen, they no longer make each full collection cost ~150 ms.
    gc.collect()
    gc.freeze()
    for fw, step in list(steps.items()):
        try:
            outputs[fw], per_call[fw] = warm_up(step, settings, case.self_timed)
        except Exception as exc:
            cells[fw].status, cells[fw].message = "error", describe_error(exc)
            del steps[fw]

    if not case.self_timed and REFERENCE in outputs:
        for fw in steps.keys() - {REFERENCE}:
            problem = compare(outputs[fw], outputs[REFERENCE], case.rtol)
            if problem:
                cells[fw].status, cells[fw].message = "wrong", problem
        steps = {fw: s for fw, s in steps.items() if cells[fw].status == "ok"}

    rounds: dict[str, int] = {}
    for fw in steps:
        t1 = max(per_call[fw], 1e-9)
        number = 1 if case.self_timed else max(1, math.ceil(settings.min_repeat_time / t1))
        cells[fw].number = number
        repeats = min(settings.repeats, case.max_repeats or settings.repeats)
        rounds[fw] = max(1, min(repeats, int(settings.cell_budget / (t1 * number))))

    for r in range(max(rounds.values(), default=0)):
        for fw, step in list(steps.items()):
            if r >= rounds[fw]:
                continue
            cell = cells[fw]
            try:
                if case.self_timed:
                    cell.samples_s.append(float(step()))
                else:
                    cell.samples_s.append(time_calls(step, cell.number))
            except Exception as exc:
                cell.status, cell.message = "error", describe_error(exc)
                del steps[fw]
    return Row(workload, case.name, case.note, cells)


def run_workloads(
    workloads: Sequence[Workload],
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Run every case of every workload; errors in a case land in its cells."""
    torch_ok = framework_available("torch")
    rows: list[Row] = []
    for w in workloads:
        try:
            cases = w.cases(settings.quick)
        except Exception as exc:
            cells = {fw: Cell(fw, "skipped", "no cases") for fw in FRAMEWORKS}
            cells["chainrule"] = Cell("chainrule", "error", f"cases(): {describe_error(exc)}")
            rows.append(Row(w.name, "(setup)", "", cells))
            continue
        for case in cases:
            if progress:
                progress(f"{w.name} / {case.name}")
            rows.append(run_case(w.name, case, settings, torch_ok))
    return rows


def _fmt_ms(cell: Cell, where: str, notes: list[str]) -> str:
    """A table cell: the median in ms, 'skipped', or a reference to an error note."""
    if cell.status == "ok":
        ms = cell.median_ms
        if ms is None:
            return "-"
        return f"{ms:.4g}" if ms < 1000 else f"{ms:.0f}"
    if cell.status == "skipped":
        return "skipped"
    notes.append(f"[{len(notes) + 1}] {where} / {cell.framework}: {cell.status}: {cell.message}")
    return f"{cell.status} [{len(notes)}]"


def _fmt_ratio(value: float | None) -> str:
    """A ratio as '0.45x', or '-' when it cannot be formed."""
    return "-" if value is None else f"{value:.3g}x"


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table of medians (ms per step) and chainrule's ratios to the others."""
    header = ["workload", "case", "chainrule ms", "compiled ms", "torch ms", "numpy ms", "cr/torch",
              "cr/numpy", "comp/torch", "comp/numpy"]
    body: list[list[str]] = []
    notes: list[str] = []
    for row in rows:
        where = f"{row.workload} / {row.case}"
        cells = [_fmt_ms(row.cells[fw], where, notes) for fw in FRAMEWORKS]
        ratios = [row.ratio(a, b) for a in ("chainrule", "compiled") for b in ("torch", "numpy")]
        body.append([row.workload, row.case, *cells, *map(_fmt_ratio, ratios)])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    left = {0, 1}

    def line(cols: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(cols)
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    case_notes = [f"  {r.workload} / {r.case}: {r.note}" for r in rows if r.note]
    if case_notes:
        out += ["", "cases:", *case_notes]
    if notes:
        out += ["", "errors:", *notes]
    return "\n".join(out)


def load_average() -> float | None:
    """The 1-minute load average (how busy the machine was), where the OS reports it."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def environment(settings: Settings) -> dict[str, Any]:
    """Versions, threads and machine facts recorded with the results."""
    versions: dict[str, str] = {"numpy": np.__version__}
    for name in ("chainrule", "torch"):
        try:
            module = __import__(name)
            versions[name] = str(getattr(module, "__version__", "unknown"))
        except Exception as exc:
            versions[name] = f"unavailable ({type(exc).__name__})"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_average(),
        "threads": settings.threads,
        "quick": settings.quick,
        "repeats": settings.repeats,
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def write_json(path: str, rows: Sequence[Row], env: Mapping[str, Any]) -> None:
    """Write the environment and every cell (status, samples, median, ratios) to `path`."""
    results = []
    for row in rows:
        cells = {}
        for fw, cell in row.cells.items():
            entry = asdict(cell)
            entry["median_ms"] = cell.median_ms
            cells[fw] = entry
        results.append(
            {
                "workload": row.workload,
                "case": row.case,
                "note": row.note,
                "cells": cells,
                "chainrule_over_torch": row.ratio("chainrule", "torch"),
                "chainrule_over_numpy": row.ratio("chainrule", "numpy"),
                "compiled_over_torch": row.ratio("compiled", "torch"),
                "compiled_over_numpy": row.ratio("compiled", "numpy"),
            }
        )
    env = {**env, "load_average_at_end": load_average()}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"environment": env, "results": results}, fh, indent=2)
        fh.write("\n")
