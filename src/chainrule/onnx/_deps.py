"""The optional onnx packages: imported on first use, with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_HINT = "pip install chainrule[onnx]"


class UnsupportedOpError(NotImplementedError):
    """An op that ONNX export or import cannot translate; the message names it."""


def require(name: str = "onnx") -> ModuleType:
    """The module ``name`` (onnx, onnxruntime), or an ImportError that names the extra."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"chainrule.onnx needs the {name!r} package: {EXTRA_HINT}") from e
