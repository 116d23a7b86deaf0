"""API.md cannot rot: every backticked `cr.`, `F.`, `torch.` or `chainrule.` name in it resolves.

`torch.` is ``chainrule.torch``; `F.` is ``chainrule.nn.functional``.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API_MD = Path(__file__).resolve().parents[1] / "API.md"
PREFIXES = {"cr": "chainrule", "chainrule": "chainrule", "F": "chainrule.nn.functional",
            "torch": "chainrule.torch"}
NAME = re.compile(r"`((?:cr|chainrule|F|torch)(?:\.[A-Za-z_]\w*)+)")


def documented_names() -> list[str]:
    """The dotted names that open a backtick span in API.md's tables and text, deduplicated."""
    return sorted(set(NAME.findall(API_MD.read_text())))


def resolve(dotted: str) -> object:
    """The object a dotted name stands for: its longest importable module prefix, then
    attributes (so `chainrule.compile.X` reads the package even where `cr.compile` is the
    function, and a lazily loaded subpackage is imported)."""
    head, *parts = dotted.split(".")
    path = PREFIXES[head].split(".") + parts
    for i in range(len(path), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(path[:i]))
        except ModuleNotFoundError:
            continue
        for part in path[i:]:
            obj = getattr(obj, part)
        return obj
    raise ModuleNotFoundError(dotted)


def test_api_md_lists_names() -> None:
    names = documented_names()
    assert len(names) > 500, f"API.md lists only {len(names)} names: the tables failed to parse"
    for ns in ("cr.linalg.", "cr.fft.", "cr.scipy.special.", "cr.nn.", "cr.optim.", "cr.data.",
               "cr.distributed.", "cr.onnx.", "cr.Tensor.", "cr.tree_", "torch."):
        assert any(n.startswith(ns) for n in names), f"API.md lists no {ns} names"


@pytest.mark.parametrize("name", documented_names())
def test_api_md_name_resolves(name: str) -> None:
    resolve(name)
