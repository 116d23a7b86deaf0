"""Download autograd 1.9.1's sdist from PyPI (pip download) and unpack it into the cache.

python tools/autograd_parity/fetch.py        # prints the unpacked directory
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

VERSION = "1.9.1"
HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"


def fetch() -> Path:
    """The unpacked sdist directory (with tests/ and examples/), downloading it if needed."""
    root = CACHE / f"autograd-{VERSION}"
    if (root / "tests").is_dir() and (root / "examples").is_dir():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"autograd-{VERSION}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"autograd=={VERSION}",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    for part in ("tests", "examples", "autograd/misc/optimizers.py"):
        if not (root / part).exists():
            raise SystemExit(f"the sdist {archive} has no {part}: find another route to it")
    return root


if __name__ == "__main__":
    print(fetch())
