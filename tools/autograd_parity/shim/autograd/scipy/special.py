"""autograd.scipy.special -> cr.scipy.special."""

import importlib
from typing import Any

from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        module = importlib.import_module("chainrule.scipy.special")
    except ImportError:
        return missing(f"cr.scipy.special.{name}")
    return lookup(module, "cr.scipy.special", name)
