"""NumPy's 1-D convolve and correlate, differentiable in both inputs.

Built on chainrule's N-d convolution op (a cross-correlation, ``ops.conv.conv``): a is padded
so that the op's 'valid' window is the requested part of the full result. Reverse: the
correlation of the cotangent with the other input; forward: the sum of the two products with
the tangents (the op's rules), so every order works. Integer and bool inputs are NumPy's own
computation, in its dtype (no derivative to keep).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule.autodiff.function import values
from chainrule.ops.conv import conv
from chainrule.ops.numeric import float_operands
from chainrule.ops.shape import pad
from chainrule.ops.shape_more import flip
from chainrule.tensor import Tensor, as_operand

_MODES = ("full", "same", "valid")


def _vectors(name: str, a: Any, v: Any, mode: str) -> tuple[Tensor, Tensor]:
    """a and v as 1-D Tensors, checked (np.convolve takes 0-d ones as length 1, np.correlate
    refuses them)."""
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    ta, tv = (x if isinstance(x, Tensor) else as_operand(x) for x in (a, v))
    a, v = float_operands(name, a, v) if "f" in (ta.dtype.kind, tv.dtype.kind) else (ta, tv)
    if name == "convolve":
        a, v = (x.reshape(1) if x.ndim == 0 else x for x in (a, v))
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{name}: a and v must be 1-D, got shapes {a.shape} and {v.shape}")
    if not a.shape[0] or not v.shape[0]:
        raise ValueError(f"{name}: a and v must not be empty, got shapes {a.shape} and "
                         f"{v.shape}")
    return a, v


def _correlate(a: Tensor, v: Tensor, mode: str) -> Tensor:
    """np.correlate of 1-D float Tensors with len(a) >= len(v) = m: the window of the full
    correlation (length n + m - 1) that mode keeps."""
    n, m = a.shape[0], v.shape[0]
    start, length = {"full": (0, n + m - 1), "same": ((m - 1) - m // 2, n),
                     "valid": (m - 1, n - m + 1)}[mode]
    # the op's valid output from start, of length L, needs a padded by (m-1-start, L-n+start)
    x = pad(a, [(m - 1 - start, length - n + start)])
    return conv(x.reshape(1, 1, -1), v.reshape(1, 1, m), name="correlate").reshape(length)


def correlate(a: Any, v: Any, mode: str = "valid") -> Tensor:
    """Cross-correlation c[k] = sum_n a[n + k] v[n] of 1-D sequences, as np.correlate.

    mode: 'valid' (complete overlaps, the default), 'same' (max(len) long, centred) or 'full'.
    Derivative: linear in each input (d(a) correlates with v, d(v) with a).
    """
    a, v = _vectors("correlate", a, v, mode)
    if a.dtype.kind != "f" and v.dtype.kind != "f":
        return values(partial(np.correlate, mode=mode), a, v)
    if a.shape[0] < v.shape[0]:  # as NumPy: the swapped correlation, reversed
        return flip(_correlate(v, a, mode), 0)
    return _correlate(a, v, mode)


def convolve(a: Any, v: Any, mode: str = "full") -> Tensor:
    """Discrete convolution c[k] = sum_n a[n] v[k - n] of 1-D sequences, as np.convolve.

    mode: 'full' (the default, len(a) + len(v) - 1 long), 'same' (max(len) long) or 'valid'.
    Derivative: linear in each input (d(a) convolves with v, d(v) with a).
    """
    a, v = _vectors("convolve", a, v, mode)
    if a.dtype.kind != "f" and v.dtype.kind != "f":
        return values(partial(np.convolve, mode=mode), a, v)
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    return _correlate(a, flip(v, 0), mode)
