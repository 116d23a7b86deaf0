"""torch.nn.functional: chainrule.nn.functional's functions, plus torch's ``pad`` and
``one_hot`` argument conventions."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.nn.functional import *  # noqa: F403
from chainrule.nn.functional import __all__ as _f_all
from chainrule.ops import shape as S
from chainrule.tensor import Tensor
from chainrule.torch._missing import namespace_getattr

__all__ = [*_f_all, "one_hot", "pad"]

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(input: Any, pad: Any, mode: str = "constant", value: Any = None) -> Tensor:
    """Pad the last len(pad) // 2 axes: pad = (last_left, last_right, prev_left, ...)."""
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported")
    x = input if isinstance(input, Tensor) else Tensor(input)
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    width = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    if mode != "constant":
        return S.pad(x, width, mode=_PAD_MODES[mode])
    return S.pad(x, width, constant_values=0.0 if value is None else value)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors along a new last axis (num_classes=-1: max + 1)."""
    idx = np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor")
    n = int(idx.max()) + 1 if num_classes == -1 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise RuntimeError("one_hot: class values must be smaller than num_classes")
    return Tensor(np.eye(n, dtype=np.int64)[idx])


__getattr__ = namespace_getattr(__name__, ("chainrule.nn.functional",))
