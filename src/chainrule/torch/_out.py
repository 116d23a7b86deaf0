"""torch's ``out=`` argument: the result written into a given tensor (resized if needed)."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np

from chainrule.autodiff.inplace import mark_written
from chainrule.autodiff.modes import STATE
from chainrule.tensor import Tensor


def write_out(out: Any, result: Any, name: str) -> Any:
    """Write result into out (a Tensor, or a tuple of them for (values, indices) results)."""
    if isinstance(result, tuple):
        if not isinstance(out, tuple | list) or len(out) != len(result):
            raise TypeError(f"torch.{name}: out= must be a tuple of {len(result)} tensors")
        for o, r in zip(out, result, strict=True):
            write_out(o, r, name)
        return out
    if not isinstance(out, Tensor):
        raise TypeError(f"torch.{name}: out= must be a Tensor, got {type(out).__name__}")
    if STATE.grad_enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"torch.{name}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    data = result._data
    if data.dtype != out.dtype and not np.can_cast(data.dtype, out.dtype, casting="same_kind"):
        raise RuntimeError(f"torch.{name}: result type {data.dtype} can't be cast to the desired "
                           f"output type {out.dtype}")
    if out.shape == data.shape:
        np.copyto(out._data, data, casting="unsafe")
    else:  # PyTorch resizes out to the result's shape
        out._data = data.astype(out.dtype, order="C")  # a copy, on data's device
    mark_written(out._data)
    return out


def supports_out(fn: Any) -> Any:
    """fn with torch's ``out=`` handled: the result is computed, then written into out."""

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return result if out is None else write_out(out, result, fn.__name__)

    return wrapper


def takes_out(fn: Any) -> bool:
    """Whether fn's signature has an ``out`` parameter."""
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
