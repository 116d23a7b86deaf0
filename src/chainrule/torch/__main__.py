"""``python -m chainrule.torch script.py [args]``: run an unchanged PyTorch script on chainrule.

``python -m chainrule.torch -m package.module [args]`` runs a module the same way.
"""

from __future__ import annotations

import os
import runpy
import sys

from chainrule.torch._alias import install

USAGE = "usage: python -m chainrule.torch script.py [args ...]  |  -m module [args ...]"


def main(argv: list[str] | None = None) -> None:
    """Install chainrule.torch as 'torch' and run the script (or module) as __main__."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        raise SystemExit(0 if argv else 2)
    install()
    if argv[0] == "-m":
        if len(argv) < 2:
            raise SystemExit(USAGE)
        sys.argv = argv[1:]
        sys.path.insert(1, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return
    script = argv[0]
    if not os.path.exists(script):
        raise SystemExit(f"python -m chainrule.torch: can't open file {script!r}")
    sys.argv = list(argv)
    sys.path.insert(1, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
