"""Argument handling shared by cr.scipy's modules."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff import function
from chainrule.dtypes import get_default_dtype
from chainrule.tensor import Tensor


def _float_dtype(x: Any) -> np.dtype | None:
    d = x.dtype if isinstance(x, Tensor | np.generic) or B.is_array(x) else None
    return np.dtype(d) if d is not None and np.dtype(d).kind == "f" else None


def as_floats(*xs: Any) -> list[Any]:
    """The arguments as Tensors of one float dtype (None stays None).

    The dtype is the first float Tensor's or ndarray's, else the default float dtype; Python
    numbers and integer arrays take it (as the arithmetic operators' weak typing does), while
    Tensors and arrays of another float dtype are kept, so a mismatch raises the ops' error.
    Arrays stay on their device; other data goes to the default device (as ``Tensor``).
    """
    dtype = next((d for d in map(_float_dtype, xs) if d is not None), None)
    dtype = dtype or np.dtype(get_default_dtype())
    out: list[Any] = []
    for x in xs:
        if x is None or _float_dtype(x) is not None:
            out.append(x if x is None or isinstance(x, Tensor) else Tensor(x))
        elif isinstance(x, Tensor):
            out.append(x.astype(dtype))
        else:
            out.append(Tensor(x, dtype))
    return out


def values(x: Tensor) -> np.ndarray:
    """The ndarray behind a Tensor: for masks and checks that carry no derivative. Read into
    NumPy, they are not recorded: a step cr.compile records runs eagerly instead."""
    if function.RECORDER is not None:
        function.RECORDER.read_values(x, "a SciPy function read the step's values into NumPy (a "
                                         "mask, a check, a constant argument)")
    return x._data


def live(x: Any) -> bool:
    """Whether x carries a derivative (a Tensor that requires grad or has tangents)."""
    return isinstance(x, Tensor) and (x.requires_grad or x._tangents is not None)


def constant_arg(fn: str, name: str, x: Any) -> np.ndarray:
    """x's values, for an argument ``fn`` has no derivative in: a clear error if x carries one."""
    if live(x):
        raise ValueError(f"{fn}: no derivative with respect to {name} (as JAX and HIPS autograd);"
                         f" pass {name} as a constant (detach it)")
    return values(x) if isinstance(x, Tensor) else B.asarray(x)


def scipy_module(name: str) -> Any:
    """scipy.<name>, imported on first use (the functions whose values SciPy supplies)."""
    try:
        return importlib.import_module(f"scipy.{name}")
    except ImportError as e:
        raise ImportError(f"this function takes its values from scipy.{name}: install SciPy"
                          ) from e
