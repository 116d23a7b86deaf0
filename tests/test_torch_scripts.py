"""The PyTorch scripts in examples/torch run unchanged on chainrule, train, and match PyTorch.

Each script is plain PyTorch. It prints ``FIRST loss=...`` (its first logged loss) and, last,
``RESULT key=value ...``. Run as ``python -m chainrule.torch script.py`` its loss must move (the
final loss well below the first: a script that runs to the end without learning fails), and its
own claims hold (accuracy, perplexity). Run again with real PyTorch, both final losses, accuracies
and perplexities must agree within 10% (relative). The two frameworks draw different random
numbers from the same seed, so each script is sized to converge to where the seed-to-seed spread
is a few percent, well inside the tolerance.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "examples" / "torch"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
TOLERANCE = 0.10  # relative, chainrule vs PyTorch
MOVED = 0.7  # the final loss must be below MOVED times the first one
# One BLAS / OpenMP thread per process: the scripts are small, and CI machines are shared.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Script:
    """A script, its arguments, and what its RESULT line must show on either framework."""

    name: str
    args: tuple[str, ...] = ()
    at_least: dict[str, float] = field(default_factory=dict)
    at_most: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join((self.name.removesuffix(".py"), *self.args))


SCRIPT_LIST = [
    Script("tutorial_autograd.py", at_most={"loss": 9.5, "nn_loss": 9.5, "optim_loss": 9.5}),
    Script("tutorial_custom_function.py", at_most={"loss": 9.5, "linear_loss": 0.1}),
    Script("tutorial_quickstart.py", at_least={"accuracy": 0.93}),
    Script("tutorial_optimization.py", at_most={"loss": 0.6}),
    Script("mnist_cnn.py", at_least={"accuracy": 0.93}),
    Script("vae.py", at_most={"loss": 27.0}),
    Script("lstm_lm.py", at_most={"perplexity": 6.5}),
    Script("transformer_lm.py", at_most={"perplexity": 7.0}),
]
# Scripts that do not run on chainrule yet: file name -> the missing feature, named exactly. They
# are strict xfails (an XPASS fails, so an entry goes as soon as its feature lands); none today.
CHAINRULE_XFAIL: dict[str, str] = {}


@dataclass(frozen=True)
class Run:
    """One finished run of a script: exit status, output, and its FIRST and RESULT lines."""

    returncode: int
    stdout: str
    stderr: str

    def line(self, tag: str) -> dict[str, float]:
        for line in self.stdout.splitlines():
            if line.startswith(tag + " "):
                return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
        raise AssertionError(f"no '{tag} ...' line in the output:\n{self.stdout[-2000:]}")

    @property
    def first(self) -> dict[str, float]:
        return self.line("FIRST")

    @property
    def result(self) -> dict[str, float]:
        return self.line("RESULT")


@functools.cache
def runs(name: str, args: tuple[str, ...]) -> dict[str, Run]:
    """Run a script once per session on chainrule and (if installed) on PyTorch, side by side:
    two single-threaded processes, so the file's wall time is about half its CPU time."""
    commands = {"chainrule": [sys.executable, "-m", "chainrule.torch", str(SCRIPTS / name), *args]}
    if HAVE_TORCH:
        commands["torch"] = [sys.executable, str(SCRIPTS / name), *args]
    procs = {fw: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=ENV, cwd=SCRIPTS) for fw, cmd in commands.items()}
    try:
        outputs = {fw: proc.communicate(timeout=300) for fw, proc in procs.items()}
        return {fw: Run(procs[fw].returncode, *out) for fw, out in outputs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def finished(framework: str, script: Script) -> Run:
    out = runs(script.name, script.args)[framework]
    assert out.returncode == 0, (f"{script} failed under {framework}:\n"
                                 f"{out.stdout[-1500:]}\n{out.stderr[-3000:]}")
    return out


def compared(metrics: dict[str, float]) -> list[str]:
    """The metrics held to the tolerance: losses, accuracy, perplexity."""
    return [k for k in metrics if k in ("loss", "accuracy", "perplexity") or k.endswith("_loss")]


def check_trains(out: Run, script: Script) -> None:
    first, result = out.first, out.result
    assert result["loss"] < MOVED * first["loss"], f"{script}: loss did not move: {first} {result}"
    for key, low in script.at_least.items():
        assert result[key] >= low, f"{script}: {key} {result[key]} < {low}"
    for key, high in script.at_most.items():
        assert result[key] <= high, f"{script}: {key} {result[key]} > {high}"


def cases(on_chainrule: bool) -> list:
    """One pytest param per script; on chainrule, the known failures are strict xfails."""
    params = []
    for script in SCRIPT_LIST:
        reason = CHAINRULE_XFAIL.get(script.name) if on_chainrule else None
        marks = pytest.mark.xfail(strict=True, reason=reason) if reason else ()
        params.append(pytest.param(script, id=str(script).replace(" ", ""), marks=marks))
    return params


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


@pytest.mark.parametrize("script", cases(on_chainrule=True))
def test_trains_on_chainrule(script: Script) -> None:
    check_trains(finished("chainrule", script), script)


@needs_torch
@pytest.mark.parametrize("script", cases(on_chainrule=False))
def test_trains_on_pytorch(script: Script) -> None:
    check_trains(finished("torch", script), script)


@needs_torch
@pytest.mark.parametrize("script", cases(on_chainrule=True))
def test_matches_pytorch(script: Script) -> None:
    want = finished("torch", script).result
    got = finished("chainrule", script).result
    keys = compared(want)
    assert keys, f"{script}: nothing to compare in {want}"
    for key in keys:
        assert got[key] == pytest.approx(want[key], rel=TOLERANCE), (
            f"{script}: {key} on chainrule {got[key]}, on PyTorch {want[key]} (all: {got} vs "
            f"{want})")
