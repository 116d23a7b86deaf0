"""cr.scipy.signal: N-d convolution and correlation, differentiable in both inputs.

Built on chainrule's N-d convolution op (a cross-correlation, ``ops.conv.conv``): in1 is padded
so that the op's 'valid' window is the requested part of the full result. Reverse: the
correlation of the cotangent with the other input; forward: the sum of the two products with
the tangents (the op's rules), so every order works.
"""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.ops.conv import conv
from chainrule.scipy._util import as_floats
from chainrule.tensor import Tensor

_MODES = ("full", "valid", "same")


def _window(mode: str, s1: tuple[int, ...], s2: tuple[int, ...]) -> list[tuple[int, int]]:
    """(start, length) per axis of the part of the full result (size s1 + s2 - 1) to keep."""
    if mode == "full":
        return [(0, a + b - 1) for a, b in zip(s1, s2)]
    if mode == "same":  # as large as in1, centred
        return [((b - 1) // 2, a) for a, b in zip(s1, s2)]
    if not (all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2))):
        raise ValueError(f"valid mode: one input must be at least as large as the other in "
                         f"every dimension, got shapes {s1} and {s2}")
    return [(min(a, b) - 1, abs(a - b) + 1) for a, b in zip(s1, s2)]


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Tensor:
    """Cross-correlation z[n] = sum_k in1[n + k - (s2 - 1)] in2[k], as scipy.signal.correlate.

    mode: 'full' (every overlap), 'valid' (complete overlaps only) or 'same' (in1's size,
    centred on the full result). ``method`` is accepted for SciPy's signature; there is one.
    Derivative: linear in each input, so d(in1) correlates with in2 and d(in2) with in1.
    """
    if mode not in _MODES:
        raise ValueError(f"correlate: mode must be one of {_MODES}, got {mode!r}")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"correlate: method must be 'auto', 'direct' or 'fft', got {method!r}")
    in1, in2 = as_floats(in1, in2)
    if in1.ndim != in2.ndim:
        raise ValueError(f"correlate: in1 and in2 should have the same dimensionality, got "
                         f"shapes {in1.shape} and {in2.shape}")
    if in1.ndim == 0:
        return in1 * in2
    s1, s2 = in1.shape, in2.shape
    if 0 in s1 or 0 in s2:
        raise ValueError(f"correlate: inputs must not be empty, got shapes {s1} and {s2}")
    # the op's valid output from start a, length L needs in1 padded by (s2-1-a, L-s1+a)
    pads = [(b - 1 - a, n - s1_ + a) for (a, n), s1_, b in zip(_window(mode, s1, s2), s1, s2)]
    x = ops.pad(in1, pads) if any(p != (0, 0) for p in pads) else in1
    out = conv(x.reshape(1, 1, *x.shape), in2.reshape(1, 1, *s2), name="correlate")
    return out.reshape(out.shape[2:])


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Tensor:
    """Convolution z[n] = sum_k in1[n - k] in2[k], as scipy.signal.convolve.

    The correlation with in2 flipped on every axis; modes as ``correlate``. Derivative: linear
    in each input (d(in1) convolves with in2, d(in2) with in1).
    """
    in1, in2 = as_floats(in1, in2)
    flipped = ops.flip(in2) if in2.ndim else in2
    return correlate(in1, flipped, mode, method)


__all__ = ["convolve", "correlate"]
