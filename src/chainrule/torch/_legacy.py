"""torch.Tensor as a name scripts call (``torch.Tensor(2, 3)``) and test (``isinstance``), and
the sparse constructors of the torch namespace."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.dtypes import get_default_dtype
from chainrule.sparse import SparseTensor, sparse_coo_tensor, spmm
from chainrule.tensor import Size
from chainrule.tensor import Tensor as _Tensor

__all__ = ["Tensor", "sparse_coo_tensor", "spmm"]


class _TensorType(type):
    """isinstance/issubclass/attributes answer for chainrule's Tensor; calling it is torch's
    legacy constructor."""

    def __instancecheck__(cls, obj: Any) -> builtins.bool:
        return isinstance(obj, _Tensor | SparseTensor)

    def __subclasscheck__(cls, sub: Any) -> builtins.bool:
        return isinstance(sub, type) and issubclass(sub, _Tensor)

    def __getattr__(cls, name: str) -> Any:
        return getattr(_Tensor, name)

    def __call__(cls, *args: Any, device: Any = None) -> _Tensor:
        from chainrule.device import as_device

        as_device(device, "Tensor")
        dt = get_default_dtype()
        if not args:
            return _Tensor(np.empty(0, dt))
        if builtins.all(isinstance(a, builtins.int | np.integer) for a in args):
            return _Tensor(np.zeros(tuple(builtins.int(a) for a in args), dt))
        if len(args) == 1 and isinstance(args[0], Size):
            return _Tensor(np.zeros(tuple(args[0]), dt))
        if len(args) == 1:
            data = args[0]
            arr = data._data if isinstance(data, _Tensor) else np.asarray(data)
            return _Tensor(arr.astype(dt, copy=not isinstance(data, _Tensor)))
        raise TypeError(f"Tensor: cannot build a tensor from arguments {args!r}")


class Tensor(metaclass=_TensorType):
    """torch.Tensor: ``Tensor(2, 3)`` (zeros of the default float dtype), ``Tensor(data)``."""
