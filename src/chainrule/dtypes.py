"""dtype policy: NumPy dtypes, float32 by default, no silent float64."""

from __future__ import annotations

import numpy as np

float32 = np.float32
float64 = np.float64
float16 = np.float16
int32 = np.int32
int64 = np.int64
bool_ = np.bool_

_default_float: type = np.float32


def get_default_dtype() -> type:
    """The dtype Python floats and lists of floats take."""
    return _default_float


def set_default_dtype(dtype: type) -> None:
    """Set the dtype Python floats and lists of floats take (float32 or float64)."""
    global _default_float
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_float = dt.type


def is_float(dtype: np.dtype) -> bool:
    """True for floating dtypes."""
    return np.dtype(dtype).kind == "f"


def as_array(data: object, dtype: object = None) -> np.ndarray:
    """Convert data to an ndarray: ndarrays keep their dtype; Python floats take the default."""
    if isinstance(data, np.ndarray):
        return data if dtype is None else data.astype(dtype, copy=False)
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        arr = arr.astype(_default_float)
    return arr
