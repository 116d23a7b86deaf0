"""autograd.scipy.signal -> cr.scipy.signal."""

import importlib
from typing import Any

from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        module = importlib.import_module("chainrule.scipy.signal")
    except ImportError:
        return missing(f"cr.scipy.signal.{name}")
    return lookup(module, "cr.scipy.signal", name)
