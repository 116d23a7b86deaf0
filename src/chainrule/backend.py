"""Array namespaces: NumPy, or CuPy for arrays that live on a CUDA device.

chainrule's ops are written against NumPy's API; CuPy implements the same API on CUDA and
dispatches NumPy's functions and ufuncs to itself for its arrays. This module is the one place
that tells the two apart, without importing CuPy unless a CuPy array is seen.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


def is_device_array(a: Any) -> bool:
    """Whether a is a CuPy array (by its type's module: CuPy is not imported to check)."""
    return type(a).__module__.startswith("cupy")


def namespace(a: Any) -> ModuleType:
    """numpy, or cupy for a CuPy array."""
    if is_device_array(a):
        import cupy

        return cupy
    return np


def like(value: Any, ref: Any) -> Any:
    """value as an array in ref's namespace (a CuPy copy when ref is on the device)."""
    if is_device_array(ref) and not is_device_array(value):
        return namespace(ref).asarray(value)
    return value
