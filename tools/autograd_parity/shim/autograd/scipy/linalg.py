"""autograd.scipy.linalg -> cr.scipy.linalg."""

import importlib
from typing import Any

from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        module = importlib.import_module("chainrule.scipy.linalg")
    except ImportError:
        return missing(f"cr.scipy.linalg.{name}")
    return lookup(module, "cr.scipy.linalg", name)
