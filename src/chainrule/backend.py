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


def on_device(a: Any) -> bool:
    """Whether a is a CuPy array (fast for ndarrays: the type test comes first)."""
    return type(a) is not np.ndarray and is_device_array(a)


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


_CUPY_MISSING = ("chainrule's CUDA devices need CuPy: install the extra that matches your CUDA "
                 "toolkit, `pip install 'chainrule[cuda]'` (cupy-cuda13x, CUDA 13) or "
                 "`pip install cupy-cuda12x` (CUDA 12)")


def cupy_module(op: str = "cuda", name: str = "cuda") -> ModuleType:
    """cupy, imported on first use; its absence is an error saying what to install."""
    try:
        import cupy
    except ImportError as e:
        raise RuntimeError(f"{op}: device {name!r} is not available: {_CUPY_MISSING} ({e})"
                           ) from None
    return cupy


def cuda_device_count(op: str = "cuda", name: str = "cuda") -> int:
    """Number of CUDA devices CuPy sees (an error naming the extra when CuPy is missing, or
    saying that no device is visible)."""
    cp = cupy_module(op, name)
    try:
        n = int(cp.cuda.runtime.getDeviceCount())
    except Exception as e:  # CuPy raises CUDARuntimeError when no driver or device is there
        raise RuntimeError(f"{op}: device {name!r} is not available: CuPy is installed but no "
                           f"CUDA device is usable ({e})") from None
    if n == 0:
        raise RuntimeError(f"{op}: device {name!r} is not available: CuPy is installed but no "
                           "CUDA device is visible")
    return n


def device_index(a: Any) -> int:
    """The CUDA device ordinal of a CuPy array."""
    return int(a.device.id)


def to_device(a: Any, index: int | None) -> Any:
    """a (an ndarray or a CuPy array) on CUDA device ``index``, or on the host for None; a
    itself when it is already there."""
    if index is None:
        if is_device_array(a):
            return namespace(a).asnumpy(a)
        return a
    if is_device_array(a) and device_index(a) == index:
        return a
    cp = cupy_module()
    with cp.cuda.Device(index):
        return cp.asarray(a)


def asnumpy(a: Any) -> Any:
    """a as a host ndarray (a copy when it is on a device)."""
    if type(a) is np.ndarray or not is_device_array(a):
        return a
    return namespace(a).asnumpy(a)


def scatter_add(a: Any, index: Any, values: Any) -> None:
    """a[index] += values in place, repeated indices accumulating: np.add.at, or
    cupyx.scatter_add for CuPy arrays (CuPy's ufuncs do not dispatch ``at``)."""
    if type(a) is np.ndarray or not is_device_array(a):
        np.add.at(a, index, values)
        return
    import cupyx

    cupyx.scatter_add(a, _device_index_arrays(index, a), like(values, a))


def _device_index_arrays(index: Any, ref: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_device_index_arrays(i, ref) for i in index)
    if isinstance(index, np.ndarray | list):
        return like(np.asarray(index), ref)
    return index


def asarray(a: Any) -> Any:
    """a as an array: NumPy scalars become 0-d ndarrays, arrays (CuPy's too) pass unchanged."""
    return a if type(a) is np.ndarray or is_device_array(a) else np.asarray(a)


def zeros(shape: Any, dtype: Any, like: Any) -> Any:
    """Zeros of shape and dtype in like's namespace (on like's device)."""
    if type(like) is np.ndarray or not is_device_array(like):
        return np.zeros(shape, dtype)
    return namespace(like).zeros(shape, dtype)


def array_like(value: Any, ref: Any, dtype: Any = None) -> Any:
    """value as an array (of dtype) in ref's namespace: on ref's device when ref is a CuPy
    array (user data such as a cotangent or a tangent, copied there once)."""
    if type(ref) is np.ndarray or not is_device_array(ref):
        return np.asarray(value, dtype=dtype)
    return namespace(ref).asarray(value, dtype=dtype)


def is_array(a: Any) -> bool:
    """Whether a is an ndarray or a CuPy array."""
    return isinstance(a, np.ndarray) or is_device_array(a)


def empty(shape: Any, dtype: Any, like: Any) -> Any:
    """An uninitialised array of shape and dtype in like's namespace (on like's device)."""
    if type(like) is np.ndarray or not is_device_array(like):
        return np.empty(shape, dtype)
    return namespace(like).empty(shape, dtype)


def contiguous(a: Any) -> Any:
    """a as a C-contiguous array of its own namespace (a itself when it already is)."""
    if a.flags.c_contiguous:
        return a
    if type(a) is np.ndarray or not is_device_array(a):
        return np.ascontiguousarray(a)
    return namespace(a).ascontiguousarray(a)


def as_strided(a: Any, shape: tuple[int, ...], strides: tuple[int, ...],
               writeable: bool = False) -> Any:
    """A strided view of a in a's namespace (ndarray views are read-only unless writeable)."""
    if type(a) is np.ndarray or not is_device_array(a):
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=writeable)
    return namespace(a).lib.stride_tricks.as_strided(a, shape, strides)


def add_reduceat(a: Any, starts: Any, axis: int) -> Any:
    """np.add.reduceat(a, starts, axis) for increasing host ``starts`` (segment sums); CuPy's
    ufuncs lack reduceat, so there the segments are scatter-added."""
    if type(a) is np.ndarray or not is_device_array(a):
        return np.add.reduceat(a, starts, axis=axis)
    ax = axis % a.ndim
    sizes = np.diff(np.append(starts, a.shape[ax]))
    seg = np.repeat(np.arange(len(starts)), sizes)
    out = namespace(a).zeros((*a.shape[:ax], len(starts), *a.shape[ax + 1:]), a.dtype)
    scatter_add(out, (slice(None),) * ax + (seg,), a)
    return out


def move_like(value: Any, ref: Any) -> Any:
    """The array value on ref's device (the host for an ndarray ref): value itself when it is
    already there, else a copy."""
    if type(ref) is np.ndarray or not is_device_array(ref):
        return asnumpy(value)
    return to_device(value, device_index(ref))
