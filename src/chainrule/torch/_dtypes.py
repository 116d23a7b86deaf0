"""torch's dtypes as NumPy dtype objects: ``torch.float is np.dtype('float32')``.

They are ``np.dtype`` instances (``torch.dtype`` is ``np.dtype``), so ``t.dtype == torch.float``,
``isinstance(torch.long, torch.dtype)``, ``torch.float32 == chainrule.float32`` and hashing with
``t.dtype`` all hold; ``np.zeros(3, torch.long)`` works as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.dtypes import get_default_dtype as _get_default
from chainrule.dtypes import set_default_dtype as _set_default
from chainrule.ops.methods_convert import as_dtype

dtype = np.dtype
float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

DTYPE_NAMES = (
    "dtype", "float16", "half", "float32", "float", "float64", "double", "complex64", "cfloat",
    "complex128", "cdouble", "uint8", "int8", "int16", "short", "int32", "int", "int64", "long",
    "bool",
)
__all__ = list(DTYPE_NAMES)


def to_dtype(value: Any) -> np.dtype | None:
    """A dtype argument as a NumPy dtype (None stays None; legacy tensor types accepted)."""
    return None if value is None else as_dtype(value)


def get_default_dtype() -> np.dtype:
    """The dtype Python floats take (torch.float32 unless changed)."""
    return np.dtype(_get_default())


def set_default_dtype(d: Any) -> None:
    """Set the dtype Python floats take (a floating dtype)."""
    _set_default(as_dtype(d))


def is_floating_point(input: Any) -> Any:
    """Whether input's dtype is a floating dtype."""
    return np.dtype(input.dtype).kind == "f"


def is_complex(input: Any) -> Any:
    """Whether input's dtype is complex."""
    return np.dtype(input.dtype).kind == "c"


def finfo(type: Any = None) -> np.finfo:
    """Machine limits of a floating dtype (NumPy's finfo: eps, tiny, max, min, bits)."""
    return np.finfo(get_default_dtype() if type is None else as_dtype(type))


def iinfo(type: Any) -> np.iinfo:
    """Machine limits of an integer dtype."""
    return np.iinfo(as_dtype(type))


def promote_types(type1: Any, type2: Any) -> np.dtype:
    """The smallest dtype both promote to."""
    return np.promote_types(as_dtype(type1), as_dtype(type2))

