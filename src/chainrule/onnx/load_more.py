"""More ONNX ops for load: ConvTranspose, GatherND, NonZero, and the integer shape arithmetic
(Div, Mod, comparisons) of PyTorch's exporter.  Registered into load_ops.OPS on import."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.onnx._deps import UnsupportedOpError
from chainrule.onnx.load_ops import _geometry, _t, onnx_op, static
from chainrule.ops.conv_transpose import conv_transpose
from chainrule.tensor import Tensor


def _is_static(*xs: Any) -> bool:
    """Whether every value is a plain array (shape arithmetic), none a Tensor."""
    return not any(isinstance(x, Tensor) for x in xs)


@onnx_op("ConvTranspose")
def _conv_transpose(attrs: dict, x: Any, w: Any, b: Any = None) -> Tensor:
    nd = w.ndim - 2
    if "output_shape" in attrs:
        raise UnsupportedOpError("onnx load: ConvTranspose with output_shape (give pads and "
                                 "output_padding instead)")
    stride, pad, dil = _geometry(attrs, nd, "ConvTranspose")
    out_pad = attrs.get("output_padding", [0] * nd)
    return conv_transpose(_t(x), w, b, tuple(stride), tuple(pad), tuple(out_pad),
                          attrs.get("group", 1), tuple(dil), f"conv_transpose{nd}d")


@onnx_op("Div")
def _div(attrs: dict, a: Any, b: Any) -> Any:
    """Division; integer division truncates toward zero, as ONNX's."""
    if _is_static(a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return (np.trunc(a / b)).astype(np.result_type(a, b))
        return a / b
    return ops.divide(a, b)


@onnx_op("Mod")
def _mod(attrs: dict, a: Any, b: Any) -> Any:
    """Remainder: the sign of the divisor (fmod=0) or of the dividend (fmod=1)."""
    if _is_static(a, b):
        return (np.fmod if attrs.get("fmod", 0) else np.mod)(np.asarray(a), np.asarray(b))
    if attrs.get("fmod", 0):
        raise UnsupportedOpError("onnx load: Mod with fmod=1 on a computed tensor")
    return ops.remainder(a, b)


@onnx_op("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or",
         "Xor", "IsNaN", "IsInf", "Sign")
def _compare(attrs: dict, *xs: Any) -> np.ndarray:
    """Comparisons, logic, predicates and sign: results with no gradient (computed on the
    arrays)."""
    op = attrs["_op"]
    if op == "IsInf" and (not attrs.get("detect_negative", 1) or not attrs.get("detect_positive",
                                                                               1)):
        raise UnsupportedOpError("onnx load: IsInf detecting one sign only")
    fn = {"Equal": np.equal, "Less": np.less, "Greater": np.greater,
          "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal,
          "Not": np.logical_not, "And": np.logical_and, "Or": np.logical_or,
          "Xor": np.logical_xor, "IsNaN": np.isnan, "IsInf": np.isinf, "Sign": np.sign}[op]
    return fn(*(static(x) for x in xs))


@onnx_op("ArgMax", "ArgMin")
def _arg_index(attrs: dict, x: Any) -> np.ndarray:
    """The int64 index of the first largest (smallest) entry along an axis."""
    if attrs.get("select_last_index", 0):
        raise UnsupportedOpError(f"onnx load: {attrs['_op']} with select_last_index=1")
    fn = np.argmax if attrs["_op"] == "ArgMax" else np.argmin
    return fn(static(x), axis=attrs.get("axis", 0),
              keepdims=bool(attrs.get("keepdims", 1))).astype(np.int64)


@onnx_op("Round", "Floor", "Ceil")
def _rounding(attrs: dict, x: Any) -> Any:
    """Round (halves to even), Floor, Ceil: derivative 0."""
    fn = {"Round": ops.rint, "Floor": ops.floor, "Ceil": ops.ceil}[attrs["_op"]]
    return fn(x) if isinstance(x, Tensor) else fn(np.asarray(x))._data


@onnx_op("GatherND")
def _gather_nd(attrs: dict, x: Any, idx: Any) -> Any:
    """x at the positions idx (*B, k) of its first k axes: (*B, *x.shape[k:])."""
    if attrs.get("batch_dims", 0):
        raise UnsupportedOpError("onnx load: GatherND with batch_dims")
    ind = static(idx).astype(np.int64)
    key = tuple(ind[..., k] for k in range(ind.shape[-1]))
    return x[key] if isinstance(x, Tensor) else np.asarray(x)[key]


@onnx_op("NonZero")
def _nonzero(attrs: dict, x: Any) -> np.ndarray:
    """The (ndim, count) int64 positions of the non-zero entries."""
    return np.asarray(np.nonzero(static(x)), dtype=np.int64).reshape(np.ndim(static(x)), -1)


@onnx_op("Range")
def _range(attrs: dict, start: Any, limit: Any, delta: Any) -> np.ndarray:
    s, lim, d = (static(v).reshape(()) for v in (start, limit, delta))
    return np.arange(s, lim, d, dtype=np.result_type(s, lim, d))


@onnx_op("Trilu")
def _trilu(attrs: dict, x: Any, k: Any = None) -> Any:
    """The upper (upper=1) or lower triangle of the last two axes, from diagonal k."""
    diag = 0 if k is None else int(static(k).reshape(()))
    upper = bool(attrs.get("upper", 1))
    if _is_static(x):
        return (np.triu if upper else np.tril)(np.asarray(x), diag)
    return (ops.triu if upper else ops.tril)(x, diag)
