"""Host staging for MPI, which moves host memory: a CUDA (CuPy) array's values travel through a
host array and come back to the device afterwards."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import asnumpy, like, on_device


def to_host(a: Any, copy: bool = False) -> np.ndarray:
    """A C-contiguous host array of a's values: a itself when it is one (unless copy), else a
    new array (a CUDA array's always is)."""
    return np.array(asnumpy(a), order="C", copy=copy or None)


def copy_back(out: Any, values: np.ndarray) -> None:
    """out[...] = values (host values copied to out's device)."""
    if on_device(out):
        out[...] = like(values, out)
    else:
        np.copyto(out, values)
