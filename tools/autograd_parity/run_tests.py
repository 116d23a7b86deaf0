"""Run autograd 1.9.1's own test suite (unchanged) against chainrule through the shim.

python tools/autograd_parity/run_tests.py [pytest args, e.g. -k test_where]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from classify import main as classify_main
from fetch import CACHE, HERE, fetch


def main() -> int:
    sdist = fetch()
    run = CACHE / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(sdist / "tests", run / "tests")
    results = CACHE / "results.jsonl"
    results.unlink(missing_ok=True)
    repo_src = HERE.parent.parent / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE / "shim"), str(HERE), str(repo_src)]),
        "AUTOGRAD_SDIST": str(sdist),
        "PARITY_RESULTS": str(results),
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        os.devnull,
        "--rootdir",
        str(run),
        "-p",
        "plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--tb=no",
        "-o",
        "console_output_style=classic",
        "tests",
        *sys.argv[1:],
    ]
    subprocess.run(cmd, cwd=run, env=env, check=False)
    sys.argv = [sys.argv[0], str(results)]
    classify_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
