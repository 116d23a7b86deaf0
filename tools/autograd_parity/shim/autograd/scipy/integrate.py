"""autograd.scipy.integrate -> cr.scipy.integrate."""

import importlib
from typing import Any

from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        module = importlib.import_module("chainrule.scipy.integrate")
    except ImportError:
        return missing(f"cr.scipy.integrate.{name}")
    return lookup(module, "cr.scipy.integrate", name)
