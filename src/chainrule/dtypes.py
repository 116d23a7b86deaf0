"""dtype policy: NumPy dtypes, float32 by default, no silent float64.

The result dtype of every op, one rule:

1. NumPy's result dtype, with Python numbers weak (NEP 50): int64 + int64 is int64, bool + bool
   is bool, ``-bool`` and ``int ** -1`` raise as in NumPy; ops that keep integers and bools in
   NumPy keep them here (``abs``, ``neg``, ``square``, ``floor``/``ceil``, ``relu``,
   ``maximum``/``minimum``/``clip`` with integer bounds, ``%``, ``//``, ``x ** n`` for an int n,
   ``sum``, ``prod``, ``max``, ``min``, ``cumsum``, indexing and shape ops).
2. Except that where an integer or bool input must become floating (``exp``, ``log``, ``sqrt``,
   ``/``, ``mean``, ``var``, ``softmax``, ``linalg.inv``, ``x ** 0.5``, ``clip`` with float
   bounds ...), it becomes the *default float dtype* (float32 unless ``set_default_dtype``
   changed it) -- never NumPy's float64 (nor its float16 for bools and int8), as PyTorch.
3. An integer or bool operand mixed with a floating one takes the float's dtype (float32 *
   int64 is float32, where NumPy says float64): a float32 computation never becomes float64.
   Floats of two different widths are an error (cast one with ``.astype``); Python floats take
   the dtype of the tensors they meet.

``float_dtype`` decides rule 2 and 3 for an op whose result is floating; ``result_dtype`` applies
the whole rule to NumPy's promotion of some operands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import is_device_array, to_device
from chainrule.device import CPU, DEFAULT

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


def float_dtype(*dtypes: Any) -> np.dtype:
    """The floating dtype of a float result from inputs of these dtypes: the first floating
    one, else the default float (rules 2 and 3 above)."""
    for d in dtypes:
        d = np.dtype(d)
        if d.kind == "f":
            return d
    return np.dtype(_default_float)


def to_float(x: np.ndarray, *others: Any) -> np.ndarray:
    """x cast to ``float_dtype`` of itself and others (arrays or dtypes): floats unchanged."""
    if x.dtype.kind == "f":
        return x
    return x.astype(float_dtype(*(o.dtype if isinstance(o, np.ndarray) else o for o in others)))


def result_dtype(*operands: Any) -> np.dtype:
    """NumPy's result dtype of the operands (arrays, dtypes or Python numbers, these weak),
    with a floating result made ``float_dtype`` of the array operands (rules 1 to 3)."""
    dt = np.result_type(*operands)
    if dt.kind != "f":
        return dt
    return float_dtype(*(o if isinstance(o, np.dtype | type) else o.dtype for o in operands
                         if isinstance(o, np.ndarray | np.dtype | type) or is_device_array(o)))


def as_array(data: object, dtype: object = None) -> np.ndarray:
    """Convert data to an ndarray: ndarrays keep their dtype; Python floats take the default.
    CuPy arrays stay on their device; other data goes to the default device."""
    if isinstance(data, np.ndarray):
        arr = data if dtype is None else data.astype(dtype, copy=False)
    elif is_device_array(data):
        return data if dtype is None else data.astype(dtype, copy=False)  # type: ignore[attr-defined]
    elif dtype is not None:
        arr = np.asarray(data, dtype=dtype)
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(_default_float)
    if DEFAULT[0] is not CPU:
        return to_device(arr, DEFAULT[0].index)
    return arr
