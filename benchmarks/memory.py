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
import resource, sys, json
sys.path.insert(0, {here!r})
import importlib
mod = importlib.import_module({module!r})
step = getattr(mod, {fw!r} + "_step")(*{args})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range({steps}):
    step()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_kib": before, "after_kib": after}}))
"""


def measure(module: str, fw: str, args: str, steps: int, threads: int) -> float:
    """Peak RSS rise in MiB over `steps` training steps, in a fresh process."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    code = CHILD.format(here=str(HERE), module=module, fw=fw, args=args, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return (r["after_kib"] - r["before_kib"]) / 1024


def main() -> None:
    """Print a table of peak-memory rises and the ratios chainrule / PyTorch (eager, compiled)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    print(f"{'workload':8}  {'framework':10}  peak rise MiB")
    for name, (module, fws, args) in STEPS.items():
        rises = {}
        for fw in fws.split():
            try:
                rises[fw] = measure(module, fw, args, a.steps, a.threads)
            except subprocess.CalledProcessError as e:
                print(f"{name:8}  {fw:10}  error: {e.stderr.strip().splitlines()[-1]}")
                continue
            print(f"{name:8}  {fw:10}  {rises[fw]:10.1f}")
        for fw, label in (("chainrule", "cr/torch"), ("compiled", "comp/torch")):
            if "torch" in rises and fw in rises and rises["torch"] > 0:
                print(f"{name:8}  {label:10}  {rises[fw] / rises['torch']:10.2f}x")


if __name__ == "__main__":
    main()
