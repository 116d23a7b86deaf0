"""Peak memory of a training step: the rise of the process's peak RSS over a few steps.

Each (workload, framework) runs in a fresh subprocess: build the model and inputs, read the
peak RSS, run the steps, read it again. The difference is what the steps needed on top of
what was already resident (imports, weights, inputs), for chainrule eager and under cr.compile
(`compiled`), PyTorch and NumPy alike.

    python benchmarks/memory.py [--steps 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRAMEWORKS = "chainrule compiled torch numpy"  # each workload module has a <framework>_step
STEPS = {"mlp": ("workloads.mlp", FRAMEWORKS, "(128, (784, 256, 256, 10))"),
         "lenet": ("workloads.lenet", FRAMEWORKS, "(64,)"),
         "lstm": ("workloads.lstm", FRAMEWORKS, "(35, 32, 32, 128)")}

CHILD = """
import sys, json
sys.path.insert(0, {here!r})
import importlib

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

import tracemalloc
mod = importlib.import_module({module!r})
tracemalloc.start()
step = getattr(mod, {fw!r} + "_step")(*{args})
base = status("VmRSS:")
traced = tracemalloc.get_traced_memory()[0]
for _ in range(2):  # the first calls: warm-up, and cr.compile's recording
    step()
first = status("VmHWM:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak to the current RSS
tracemalloc.reset_peak()
for _ in range({steps}):
    step()
live = tracemalloc.get_traced_memory()[1] - traced
print(json.dumps({{"base": base, "first": first, "steady": status("VmHWM:"), "live": live}}))
"""


def measure(module: str, fw: str, args: str, steps: int, threads: int
            ) -> tuple[float, float, float]:
    """In MiB, in a fresh process: the peak RSS rise over the RSS after setup during the first
    two calls (cr.compile records in the first) and during `steps` later ones (steady state:
    what a step holds between calls counts, as it is resident at the peak); and the steady
    steps' peak of live allocations (tracemalloc, which NumPy reports to) over setup's: RSS
    also keeps memory freed earlier that the allocator did not give back."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    code = CHILD.format(here=str(HERE), module=module, fw=fw, args=args, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return ((r["first"] - r["base"]) / 1024, (r["steady"] - r["base"]) / 1024,
            r["live"] / 2**20)


def main() -> None:
    """Print a table of peak-memory rises and the ratios chainrule / PyTorch (eager, compiled)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    print(f"{'workload':8}  {'framework':10}  {'first calls':>11}  {'steady step':>11}  "
          f"{'live peak':>9}  (MiB over setup: peak RSS, peak of live allocations; ratios of "
          "the steady peak RSS)")
    for name, (module, fws, args) in STEPS.items():
        rises = {}
        for fw in fws.split():
            try:
                first, rises[fw], live = measure(module, fw, args, a.steps, a.threads)
            except subprocess.CalledProcessError as e:
                print(f"{name:8}  {fw:10}  error: {e.stderr.strip().splitlines()[-1]}")
                continue
            # torch allocates outside tracemalloc's view
            shown = f"{live:9.1f}" if fw != "torch" else f"{'-':>9}"
            print(f"{name:8}  {fw:10}  {first:11.1f}  {rises[fw]:11.1f}  {shown}")
        for fw, ref in (("chainrule", "torch"), ("compiled", "torch"), ("compiled", "chainrule")):
            if ref in rises and fw in rises and rises[ref] > 0:
                label = f"{fw[:4]}/{ref[:5]}"
                print(f"{name:8}  {label:10}  {'':11}  {'':11}  {rises[fw] / rises[ref]:8.2f}x")


if __name__ == "__main__":
    main()
