"""ONNX ops run with chainrule ops: OPS[op_type](attrs, *inputs), differentiable throughout."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.backend import asnumpy
from chainrule.nn import functional as F
from chainrule.onnx._deps import UnsupportedOpError
from chainrule.ops import conv as conv_ops
from chainrule.ops import pool
from chainrule.ops.recurrent import GRUScan, LSTMScan, RNNScan
from chainrule.tensor import Tensor

Impl = Callable[..., Any]
OPS: dict[str, Impl] = {}


def onnx_op(*names: str) -> Callable[[Impl], Impl]:
    """Register an implementation for the ONNX op types."""
    def register(fn: Impl) -> Impl:
        for n in names:
            OPS[n] = fn
        return fn
    return register


def _t(v: Any) -> Tensor:
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v))


def static(v: Any) -> np.ndarray:
    """A value that must be known when the graph runs (shapes, axes, pads) as an ndarray (a host
    copy of a CUDA tensor's)."""
    return asnumpy(v._data) if isinstance(v, Tensor) else np.asarray(v)


def _ints(v: Any) -> list[int]:
    return [int(i) for i in static(v).reshape(-1)]


def _axes(attrs: dict, axes: Any, ndim: int) -> tuple[int, ...] | None:
    """Axes from the input (opset 13+) or the attribute, normalized; None for all."""
    got = _ints(axes) if axes is not None else attrs.get("axes")
    return None if got is None else tuple(int(a) % ndim for a in got)


def _folded(f: Callable[..., Any]) -> Callable[..., Any]:
    """f on the node's inputs; on constants only, an ndarray (folded on the host, so it joins
    a later Tensor on that Tensor's device)."""
    def op(attrs: dict, *xs: Any) -> Any:
        out = f(*xs)
        return out if any(isinstance(x, Tensor) for x in xs) else out._data
    return op


for _name, _fn in [("Add", ops.add), ("Sub", ops.subtract), ("Mul", ops.multiply),
                   ("Div", ops.divide), ("MatMul", ops.matmul), ("Where", ops.where)]:
    OPS[_name] = _folded(_fn)
for _name, _fn in [("Neg", ops.neg), ("Exp", ops.exp), ("Log", ops.log), ("Sqrt", ops.sqrt),
                   ("Abs", ops.abs), ("Sin", ops.sin), ("Cos", ops.cos), ("Tan", ops.tan),
                   ("Tanh", ops.tanh), ("Sigmoid", ops.sigmoid), ("Relu", ops.relu),
                   ("Softplus", ops.softplus), ("Erf", F.erf)]:
    OPS[_name] = (lambda f: lambda attrs, x: f(_t(x)))(_fn)


@onnx_op("Identity", "Dropout")
def _identity(attrs: dict, x: Any, *rest: Any) -> Any:
    return x


@onnx_op("Constant")
def _constant(attrs: dict) -> np.ndarray:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            v = np.asarray(attrs[key])
            return v.astype(np.float32) if "float" in key else v.astype(np.int64) \
                if "int" in key else v
    raise UnsupportedOpError(f"onnx load: Constant with attributes {sorted(attrs)}")


@onnx_op("ConstantOfShape")
def _constant_of_shape(attrs: dict, shape: Any) -> np.ndarray:
    value = np.asarray(attrs.get("value", np.zeros(1, np.float32))).reshape(-1)
    return np.full(_ints(shape), value[0], dtype=value.dtype)


@onnx_op("Cast")
def _cast(attrs: dict, x: Any) -> Any:
    from onnx import helper

    dtype = helper.tensor_dtype_to_np_dtype(attrs["to"])
    return ops.astype(x, dtype) if isinstance(x, Tensor) else np.asarray(x).astype(dtype)


@onnx_op("Shape")
def _shape(attrs: dict, x: Any) -> np.ndarray:
    dims = np.asarray(np.shape(static(x)), dtype=np.int64)
    return dims[attrs.get("start", 0):attrs.get("end")]


@onnx_op("Gather")
def _gather(attrs: dict, x: Any, idx: Any) -> Any:
    ind = static(idx).astype(np.int64)
    key = (slice(None),) * (attrs.get("axis", 0) % np.ndim(static(x))) + (
        int(ind) if ind.ndim == 0 else ind,)
    return _t(x)[key] if isinstance(x, Tensor) else np.asarray(x)[key]


@onnx_op("Unsqueeze")
def _unsqueeze(attrs: dict, x: Any, axes: Any = None) -> Any:
    ax = _ints(axes) if axes is not None else attrs["axes"]
    nd = np.ndim(static(x)) + len(ax)
    out = x
    for a in sorted(int(a) % nd for a in ax):
        out = ops.expand_dims(out, a) if isinstance(out, Tensor) else np.expand_dims(out, a)
    return out


@onnx_op("Squeeze")
def _squeeze(attrs: dict, x: Any, axes: Any = None) -> Any:
    ax = _axes(attrs, axes, np.ndim(static(x)))
    if not isinstance(x, Tensor):
        return np.squeeze(x, axis=ax)
    return ops.squeeze(x, axis=ax)


@onnx_op("Concat")
def _concat(attrs: dict, *xs: Any) -> Any:
    if not any(isinstance(x, Tensor) for x in xs):
        return np.concatenate([np.asarray(x) for x in xs], axis=attrs["axis"])
    dev = next(x.device for x in xs if isinstance(x, Tensor))  # constants join it there
    return ops.concatenate([_t(x).to(dev) for x in xs], axis=attrs["axis"])


@onnx_op("Reshape")
def _reshape(attrs: dict, x: Any, shape: Any) -> Any:
    dims = _ints(shape)
    if not attrs.get("allowzero", 0):
        dims = [np.shape(static(x))[i] if d == 0 else d for i, d in enumerate(dims)]
    return ops.reshape(x, tuple(dims)) if isinstance(x, Tensor) else np.reshape(x, dims)


@onnx_op("Flatten")
def _flatten(attrs: dict, x: Any) -> Tensor:
    shape = x.shape
    axis = attrs.get("axis", 1) % (len(shape) or 1)
    return ops.reshape(_t(x), (math.prod(shape[:axis]), -1))


@onnx_op("Transpose")
def _transpose(attrs: dict, x: Any) -> Tensor:
    perm = attrs.get("perm") or list(range(x.ndim))[::-1]
    return ops.transpose(_t(x), tuple(perm))


@onnx_op("Expand")
def _expand(attrs: dict, x: Any, shape: Any) -> Tensor:
    return ops.broadcast_to(_t(x), np.broadcast_shapes(np.shape(static(x)), tuple(_ints(shape))))


@onnx_op("Slice")
def _slice(attrs: dict, x: Any, starts: Any, ends: Any, axes: Any = None,
           steps: Any = None) -> Any:
    nd = np.ndim(static(x))
    ax = _ints(axes) if axes is not None else list(range(len(_ints(starts))))
    st = _ints(steps) if steps is not None else [1] * len(ax)
    key = [slice(None)] * nd
    for a, lo, hi, s in zip(ax, _ints(starts), _ints(ends), st):
        key[a % nd] = slice(lo, hi, s)
    return x[tuple(key)]


@onnx_op("Gemm")
def _gemm(attrs: dict, a: Any, b: Any, c: Any = None) -> Tensor:
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    a = ops.transpose(_t(a), (1, 0)) if attrs.get("transA", 0) else _t(a)
    if attrs.get("transB", 0) and alpha == 1.0 and beta == 1.0:
        return F.linear(a, _t(b), None if c is None else _t(c))
    b = ops.transpose(_t(b), (1, 0)) if attrs.get("transB", 0) else _t(b)
    y = ops.matmul(a, b) if alpha == 1.0 else ops.matmul(a, b) * alpha
    return y if c is None else y + (_t(c) if beta == 1.0 else _t(c) * beta)


@onnx_op("Pow")
def _pow(attrs: dict, x: Any, y: Any) -> Tensor:
    return ops.power(_t(x), y if isinstance(y, Tensor) else float(static(y)))


@onnx_op("Max", "Min")
def _max_min(attrs: dict, *xs: Any) -> Any:
    fn = ops.maximum if attrs["_op"] == "Max" else ops.minimum
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


@onnx_op("Clip")
def _clip(attrs: dict, x: Any, lo: Any = None, hi: Any = None) -> Tensor:
    lo = attrs.get("min") if lo is None else float(static(lo))
    hi = attrs.get("max") if hi is None else float(static(hi))
    return ops.clip(_t(x), lo, hi)


@onnx_op("LeakyRelu")
def _leaky_relu(attrs: dict, x: Any) -> Tensor:
    return F.leaky_relu(x, attrs.get("alpha", 0.01))


@onnx_op("Elu")
def _elu(attrs: dict, x: Any) -> Tensor:
    return F.elu(x, attrs.get("alpha", 1.0))


@onnx_op("Gelu")
def _gelu(attrs: dict, x: Any) -> Tensor:
    return F.gelu(x, attrs.get("approximate", "none"))


@onnx_op("Softmax", "LogSoftmax")
def _softmax(attrs: dict, x: Any) -> Tensor:
    fn = ops.softmax if attrs["_op"] == "Softmax" else ops.log_softmax
    return fn(_t(x), axis=attrs.get("axis", -1))


@onnx_op("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceLogSumExp")
def _reduce(attrs: dict, x: Any, axes: Any = None) -> Tensor:
    x = _t(x)
    ax = _axes(attrs, axes, x.ndim)
    if ax == () and attrs.get("noop_with_empty_axes", 0):
        return x
    fn = {"ReduceSum": ops.sum, "ReduceMean": ops.mean, "ReduceMax": ops.max,
          "ReduceMin": ops.min, "ReduceProd": ops.prod, "ReduceLogSumExp": ops.logsumexp}
    return fn[attrs["_op"]](x, axis=ax or None, keepdims=bool(attrs.get("keepdims", 1)))


def _geometry(attrs: dict, nd: int, what: str) -> tuple[list[int], list[int], list[int]]:
    """Strides, symmetric pads and dilations of a conv or pool (explicit padding only)."""
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise UnsupportedOpError(f"onnx load: {what} with auto_pad={attrs['auto_pad']}")
    pads = attrs.get("pads", [0] * 2 * nd)
    if pads[:nd] != pads[nd:]:
        raise UnsupportedOpError(f"onnx load: {what} with asymmetric pads {pads}")
    return attrs.get("strides", [1] * nd), pads[:nd], attrs.get("dilations", [1] * nd)


@onnx_op("Conv")
def _conv(attrs: dict, x: Any, w: Any, b: Any = None) -> Tensor:
    nd = w.ndim - 2
    stride, pad, dil = _geometry(attrs, nd, "Conv")
    return conv_ops.conv(_t(x), w, b, tuple(stride), tuple(pad), tuple(dil),
                         attrs.get("group", 1), f"conv{nd}d")


@onnx_op("MaxPool", "AveragePool")
def _pool(attrs: dict, x: Any) -> Tensor:
    k = attrs["kernel_shape"]
    stride, pad, dil = _geometry(attrs, len(k), attrs["_op"])
    ceil = bool(attrs.get("ceil_mode", 0))
    if attrs["_op"] == "MaxPool":
        return pool.max_pool(_t(x), len(k), tuple(k), tuple(stride), tuple(pad), tuple(dil), ceil)
    return pool.avg_pool(_t(x), len(k), tuple(k), tuple(stride), tuple(pad), ceil,
                         bool(attrs.get("count_include_pad", 0)))


@onnx_op("GlobalAveragePool")
def _global_avg(attrs: dict, x: Any) -> Tensor:
    return ops.mean(_t(x), axis=tuple(range(2, x.ndim)), keepdims=True)


@onnx_op("BatchNormalization")
def _batch_norm(attrs: dict, x: Any, w: Any, b: Any, mean: Any, var: Any) -> Tensor:
    if attrs.get("training_mode", 0):
        raise UnsupportedOpError("onnx load: BatchNormalization with training_mode=1")
    return F.batch_norm(x, static(mean), static(var), w, b, False,
                        eps=attrs.get("epsilon", 1e-5))


@onnx_op("LayerNormalization")
def _layer_norm(attrs: dict, x: Any, w: Any, b: Any = None) -> Tensor:
    axis = attrs.get("axis", -1) % x.ndim
    return F.layer_norm(x, x.shape[axis:], w, b, eps=attrs.get("epsilon", 1e-5))


@onnx_op("Pad")
def _pad(attrs: dict, x: Any, pads: Any, value: Any = None, axes: Any = None) -> Tensor:
    if attrs.get("mode", "constant") != "constant" or axes is not None:
        raise UnsupportedOpError(f"onnx load: Pad with mode={attrs.get('mode')!r} or axes")
    p = _ints(pads)
    nd = len(p) // 2
    fill = 0.0 if value is None else float(static(value))
    return ops.pad(_t(x), [(p[i], p[i + nd]) for i in range(nd)], constant_values=fill)


# ONNX gate blocks to PyTorch's: LSTM (i, o, f, c) -> (i, f, g, o), GRU (z, r, h) -> (r, z, n)
_TO_TORCH = {"LSTM": (4, (0, 2, 3, 1)), "GRU": (3, (1, 0, 2)), "RNN": (1, (0,))}
_DEFAULT_ACT = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


@onnx_op("LSTM", "GRU", "RNN")
def _recurrent(attrs: dict, x: Any, w: Any, r: Any, b: Any = None, lens: Any = None,
               h0: Any = None, c0: Any = None, p: Any = None) -> tuple[Any, ...]:
    op = attrs["_op"]
    n_gates, order = _TO_TORCH[op]
    hid = attrs["hidden_size"]
    direction = attrs.get("direction", "forward")
    acts = attrs.get("activations")
    nonlin = "tanh"
    if op == "RNN":
        nonlin = {"Tanh": "tanh", "Relu": "relu"}.get((acts or ["Tanh"])[0], "")
    bad = [k for k in ("clip", "input_forget", "layout") if attrs.get(k)]
    if lens is not None or p is not None or bad or not nonlin or (
            op != "RNN" and acts and acts[:len(_DEFAULT_ACT[op])] != _DEFAULT_ACT[op]) or (
            op == "GRU" and not attrs.get("linear_before_reset", 0)):
        raise UnsupportedOpError(f"onnx load: {op} with options {sorted(attrs)} (sequence "
                                 "lengths, peepholes, clip, layout, other activations, or "
                                 "GRU without linear_before_reset) is not supported")
    rows = np.concatenate([np.arange(k * hid, (k + 1) * hid) for k in order])
    n_t, n_b = x.shape[0], x.shape[1]
    dirs = 2 if direction == "bidirectional" else 1
    seqs, h_n, c_n = [], [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        bias = _t(b)[d] if b is not None else np.zeros(2 * n_gates * hid, x.dtype)
        weights = (_t(w)[d][rows], _t(r)[d][rows], bias[:n_gates * hid][rows],
                   bias[n_gates * hid:][rows])
        zeros = np.zeros((n_b, hid), x.dtype)
        h = zeros if h0 is None else _t(h0)[d]
        if op == "LSTM":
            out = LSTMScan.apply(x, *weights, h, zeros if c0 is None else _t(c0)[d], reverse)
            c_n.append(out[n_t])
            out = out[:n_t]
        elif op == "GRU":
            out = GRUScan.apply(x, *weights, h, reverse)
        else:
            out = RNNScan.apply(x, *weights, h, nonlin, reverse)
        seqs.append(out)
        h_n.append(out[0 if reverse else n_t - 1])
    y = ops.stack(seqs, axis=1)
    return (y, ops.stack(h_n, axis=0)) + ((ops.stack(c_n, axis=0),) if op == "LSTM" else ())


from chainrule.onnx import load_more  # noqa: E402,F401  (registers more ops into OPS)
