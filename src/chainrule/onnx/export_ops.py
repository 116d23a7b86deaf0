"""One translation per chainrule op: handler(g, node, out) writes ONNX nodes, returns a name."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.backend import asnumpy, is_device_array
from chainrule.onnx._deps import UnsupportedOpError
from chainrule.onnx.export_more import advanced_getitem, register, scan_rows
from chainrule.ops import conv, indexing, linalg, pool, recurrent, rounding, shape
from chainrule.ops import elementwise as ew
from chainrule.ops import nn as nnops
from chainrule.ops import reduction as red
from chainrule.tensor import Tensor

Handler = Callable[[Any, Any, Tensor], str]
HANDLERS: dict[type, Handler] = {}

_BIG = np.iinfo(np.int64).max


def handles(*ops: type) -> Callable[[Handler], Handler]:
    """Register a handler for the op classes."""
    def register(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn
    return register


def _like(node: Any) -> Any:
    """The first Tensor argument's array (constants take its float dtype)."""
    return next(a._data for a in node.args if isinstance(a, Tensor))


def _names(g: Any, node: Any) -> list[str]:
    like = _like(node)
    return [g.name(a, like) for a in node.args]


def _simple(op_type: str) -> Handler:
    def handler(g: Any, node: Any, out: Tensor) -> str:
        return g.node(op_type, _names(g, node))
    return handler


def _promoting(op_type: str) -> Handler:
    """An arithmetic op whose Tensor operands NumPy promotes (a bool mask times a float):
    ONNX wants one type, so the others are cast to the result's."""
    def handler(g: Any, node: Any, out: Tensor) -> str:
        names = _names(g, node)
        to = out._data.dtype
        for i, a in enumerate(node.args):
            if isinstance(a, Tensor) and a._data.dtype != to:
                names[i] = g.node("Cast", [names[i]], to=g.helper.np_dtype_to_tensor_dtype(to))
        return g.node(op_type, names)
    return handler


for _cls, _op in [(ew.Pow, "Pow"), (ew.Neg, "Neg"), (ew.Exp, "Exp"), (ew.Log, "Log"),
                  (ew.Sqrt, "Sqrt"), (ew.Abs, "Abs"), (ew.Sin, "Sin"), (ew.Cos, "Cos"),
                  (ew.Tan, "Tan"), (ew.Tanh, "Tanh"), (ew.Sigmoid, "Sigmoid"),
                  (ew.Relu, "Relu"), (ew.Softplus, "Softplus"), (nnops.Erf, "Erf"),
                  (linalg.MatMul, "MatMul"), (shape.Clone, "Identity"),
                  (rounding.Rint, "Round"), (rounding.Floor, "Floor"),
                  (rounding.Ceil, "Ceil")]:
    HANDLERS[_cls] = _simple(_op)
for _cls, _op in [(ew.Add, "Add"), (ew.Sub, "Sub"), (ew.Mul, "Mul"), (ew.Div, "Div"),
                  (ew.Maximum, "Max"), (ew.Minimum, "Min")]:
    HANDLERS[_cls] = _promoting(_op)


@handles(ew.PowScalar)
def _pow_scalar(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    return g.node("Pow", [g.name(x), g.const(node.p, dtype=x._data.dtype)])


@handles(ew.Log1p)
def _log1p(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    return g.node("Log", [g.node("Add", [g.name(x), g.const(1, dtype=x._data.dtype)])])


@handles(nnops.Gelu, nnops.GeluTanh)
def _gelu(g: Any, node: Any, out: Tensor) -> str:
    x = g.name(node.args[0])
    dt = node.args[0]._data.dtype
    if g.opset >= 20:
        tanh = node.op is nnops.GeluTanh
        return g.node("Gelu", [x], approximate="tanh" if tanh else "none")
    if node.op is nnops.Gelu:  # 0.5 x (1 + erf(x / sqrt 2))
        inner = g.node("Erf", [g.node("Mul", [x, g.const(1 / math.sqrt(2), dtype=dt)])])
    else:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        poly = g.node("Add", [x, g.node("Mul", [cube, g.const(0.044715, dtype=dt)])])
        inner = g.node("Tanh", [g.node("Mul", [poly, g.const(math.sqrt(2 / math.pi), dtype=dt)])])
    half = g.node("Mul", [x, g.const(0.5, dtype=dt)])
    return g.node("Mul", [half, g.node("Add", [inner, g.const(1, dtype=dt)])])


@handles(nnops.LeakyRelu, nnops.Elu)
def _param_unary(g: Any, node: Any, out: Tensor) -> str:
    op = "LeakyRelu" if node.op is nnops.LeakyRelu else "Elu"
    return g.node(op, [g.name(node.args[0])], alpha=float(node.a))


@handles(ew.Clip)
def _clip(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    dt = x._data.dtype
    lo = "" if node.lo is None else g.const(node.lo, dtype=dt)
    hi = "" if node.hi is None else g.const(node.hi, dtype=dt)
    return g.node("Clip", [g.name(x), lo, hi])


@handles(ew.Astype)
def _cast(g: Any, node: Any, out: Tensor) -> str:
    return g.node("Cast", [g.name(node.args[0])],
                  to=g.helper.np_dtype_to_tensor_dtype(np.dtype(node.dst)))


@handles(nnops.Linear)
def _linear(g: Any, node: Any, out: Tensor) -> str:
    x, _, *b = node.args
    names = _names(g, node)
    if x.ndim == 2:
        return g.node("Gemm", names, transB=1)
    y = g.node("MatMul", [names[0], g.node("Transpose", [names[1]], perm=[1, 0])])
    return g.node("Add", [y, names[2]]) if b else y


@handles(conv.Conv)
def _conv(g: Any, node: Any, out: Tensor) -> str:
    geo = node.geom
    return g.node("Conv", _names(g, node), kernel_shape=list(geo.ksize), strides=list(geo.stride),
                  pads=[*geo.pad_lo, *geo.pad_hi], dilations=list(geo.dilation),
                  group=geo.groups)


@handles(pool.MaxPool)
def _max_pool(g: Any, node: Any, out: Tensor) -> str:
    geo = node.geom
    if node.args[0].ndim != geo.nd + 2:
        raise UnsupportedOpError("onnx export: max_pool needs a batch and a channel axis")
    return g.node("MaxPool", [g.name(node.args[0])], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), pads=[*geo.pad_lo, *geo.pad_lo],
                  dilations=list(geo.dilation), ceil_mode=int(geo.pad_hi != geo.pad_lo))


@handles(pool.AvgPool)
def _avg_pool(g: Any, node: Any, out: Tensor) -> str:
    geo = node.geom
    full = np.ndim(node.scale) == 0
    if full and not math.isclose(float(node.scale) * math.prod(geo.kernel), 1.0, rel_tol=1e-6):
        raise UnsupportedOpError("onnx export: avg_pool with divisor_override has no ONNX form")
    ceil = geo.pad_hi != geo.pad_lo
    return g.node("AveragePool", [g.name(node.args[0])], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), pads=[*geo.pad_lo, *geo.pad_lo],
                  ceil_mode=int(ceil), count_include_pad=int(full))


@handles(pool.AxisLinear)
def _axis_linear(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    mats = node.mats
    name = g.name(x)
    if x.ndim == len(mats) + 2 and all(m.shape[0] == 1 and np.allclose(m, 1 / m.shape[1])
                                       for m in mats):
        return g.node("GlobalAveragePool", [name])
    if len(mats) > 2:
        raise UnsupportedOpError("onnx export: adaptive pooling over more than 2 axes")
    if len(mats) == 2:  # trailing axes (h, w): A_h @ x, then @ A_w^T
        name = g.node("MatMul", [g.const(mats[0]), name])
    return g.node("MatMul", [name, g.const(np.ascontiguousarray(mats[-1].T))])


@handles(nnops.Normalize)
def _normalize(g: Any, node: Any, out: Tensor) -> str:
    x, w, _ = node.args
    xn, wn, bn = _names(g, node)
    nd = x.ndim
    if node.fixed:  # batch norm with running statistics: channels on axis 1
        if len(node.pshape) != nd - 1 or any(s != 1 for s in node.pshape[1:]):
            raise UnsupportedOpError(f"onnx export: normalize over axes {node.axes} of a "
                                     f"{nd}-d input is not BatchNormalization")
        mean, var = _running_stats(g, node, w)
        return g.node("BatchNormalization", [xn, wn, bn, mean, var], epsilon=float(node.eps))
    k = len(node.axes)
    if tuple(node.axes) != tuple(range(-k, 0)) or tuple(node.pshape) != x.shape[-k:]:
        raise UnsupportedOpError(f"onnx export: normalize over axes {node.axes} with parameter "
                                 f"shape {node.pshape} is not LayerNormalization")
    return g.node("LayerNormalization", [xn, wn, bn], axis=-k, epsilon=float(node.eps))


def _running_stats(g: Any, node: Any, w: Any) -> tuple[str, str]:
    """The running mean and variance as initializers, named after the module's buffers."""
    c = node.pshape[0]
    mean = np.asarray(asnumpy(node.mean)).reshape(c)
    var = (1.0 / np.square(np.asarray(asnumpy(node.r), np.float64)) - node.eps).reshape(c)
    prefix = g.keys.get(id(w), "").removesuffix("weight")
    buffers = {n: t for n, t in g.buffers.items() if prefix and n.startswith(prefix)}
    if prefix + "running_var" in buffers:
        mean = buffers[prefix + "running_mean"]._data
        var = buffers[prefix + "running_var"]._data
    hint = prefix or "bn."
    return (g.const(mean, hint + "running_mean"),
            g.const(var.astype(mean.dtype), hint + "running_var"))


@handles(red.Softmax, red.LogSoftmax)
def _softmax(g: Any, node: Any, out: Tensor) -> str:
    op = "Softmax" if node.op is red.Softmax else "LogSoftmax"
    return g.node(op, [g.name(node.args[0])], axis=int(node.axis))


_REDUCE = {red.Sum: "ReduceSum", red.Max: "ReduceMax", red.Min: "ReduceMin",
           red.Prod: "ReduceProd", red.LogSumExp: "ReduceLogSumExp"}


@handles(*_REDUCE)
def _reduce(g: Any, node: Any, out: Tensor) -> str:
    op = _REDUCE[node.op]
    x = g.name(node.args[0])
    keep = int(bool(node.keepdims))
    if op == "ReduceSum" or g.opset >= 18:
        return g.node(op, [x, g.ints(node.axes, "axes")], keepdims=keep)
    return g.node(op, [x], axes=list(node.axes), keepdims=keep)


@handles(shape.Reshape)
def _reshape(g: Any, node: Any, out: Tensor) -> str:
    src, dst = node.in_shape, list(node.out_shape)
    if g.batch is not None:  # dynamic axes: a leading axis kept as it is copies the input's
        for k, (a, b) in enumerate(zip(src, dst)):
            if a != b:
                break
            dst[k] = 0
    return g.node("Reshape", [g.name(node.args[0]), g.ints(dst)])


@handles(shape.Transpose)
def _transpose(g: Any, node: Any, out: Tensor) -> str:
    nd = node.args[0].ndim
    return g.node("Transpose", [g.name(node.args[0])], perm=[int(p) % nd for p in node.perm])


@handles(shape.BroadcastTo)
def _broadcast(g: Any, node: Any, out: Tensor) -> str:
    src = (1,) * (len(node.out_shape) - len(node.in_shape)) + tuple(node.in_shape)
    # an axis the input already has at full size is written 1: Expand keeps the input's
    shape = [1 if a == b else b for a, b in zip(src, node.out_shape)]
    return g.node("Expand", [g.name(node.args[0]), g.ints(shape)])


@handles(shape.Concatenate)
def _concat(g: Any, node: Any, out: Tensor) -> str:
    return g.node("Concat", _names(g, node), axis=int(node.axis))


@handles(shape.Pad)
def _pad(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    pads = [lo for lo, _ in node.pw] + [hi for _, hi in node.pw]
    value = getattr(node, "value", 0)
    return g.node("Pad", [g.name(x), g.ints(pads, "pads"), g.const(value, dtype=x._data.dtype)],
                  mode="constant")


@handles(indexing.GetItem)
def _getitem(g: Any, node: Any, out: Tensor) -> str:
    x = node.args[0]
    idx = node.idx if isinstance(node.idx, tuple) else (node.idx,)
    if any(isinstance(i, np.ndarray | list | Tensor) or is_device_array(i) for i in idx):
        return advanced_getitem(g, x, idx)
    rows = scan_rows(g, g.name(x), idx)
    if rows is not None:
        return rows
    n_real = sum(i is not None and i is not Ellipsis for i in idx)
    if any(i is Ellipsis for i in idx):
        e = next(k for k, i in enumerate(idx) if i is Ellipsis)
        idx = idx[:e] + (slice(None),) * (x.ndim - n_real) + idx[e + 1:]
    name = g.name(x)
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = 0
    for i in idx:
        if i is None:
            new.append(axis + len(new) - len(drop))
            continue
        if isinstance(i, slice):
            if i != slice(None):
                step = 1 if i.step is None else int(i.step)
                lo = i.start if i.start is not None else (0 if step > 0 else -1)
                hi = i.stop if i.stop is not None else (_BIG if step > 0 else -_BIG)
                starts.append(int(lo))
                ends.append(int(hi))
                axes.append(axis)
                steps.append(step)
        elif isinstance(i, int | np.integer):
            starts.append(int(i))
            ends.append(int(i) + 1 if int(i) != -1 else _BIG)
            axes.append(axis)
            steps.append(1)
            drop.append(axis)
        else:
            raise UnsupportedOpError(f"onnx export: getitem with index {i!r}")
        axis += 1
    if axes:
        name = g.node("Slice", [name, g.ints(starts, "starts"), g.ints(ends, "ends"),
                                g.ints(axes, "axes"), g.ints(steps, "steps")])
    if drop:
        name = g.squeeze(name, drop)
    if new:
        name = g.unsqueeze(name, new)
    return name


_GATES = {recurrent.LSTMScan: ("LSTM", 4, (0, 3, 1, 2)),  # (i, f, g, o) -> (i, o, f, c)
          recurrent.GRUScan: ("GRU", 3, (1, 0, 2)),  # (r, z, n) -> (z, r, h)
          recurrent.RNNScan: ("RNN", 1, (0,))}


@handles(*_GATES)
def _scan(g: Any, node: Any, out: Tensor) -> str:
    op, n_gates, order = _GATES[node.op]
    x, w_ih, w_hh, b_ih, b_hh, *states = node.args
    hid = w_hh.shape[1]

    def reorder(t: Any, hint: str) -> str:
        a = asnumpy(t._data) if isinstance(t, Tensor) else np.asarray(t)
        blocks = [a[k * hid:(k + 1) * hid] for k in order]
        key = g.keys.get(id(t), hint) if isinstance(t, Tensor) else hint
        return g.const(np.concatenate(blocks)[None], key)

    bias = np.concatenate([np.asarray(asnumpy(b._data) if isinstance(b, Tensor) else b)
                           for b in (b_ih, b_hh)])
    b_name = g.keys.get(id(b_ih), "bias")
    bias = np.concatenate([np.concatenate([bias[k * hid:(k + 1) * hid] for k in order]),
                           np.concatenate([bias[(n_gates + k) * hid:(n_gates + k + 1) * hid]
                                           for k in order])])
    ins = [g.name(x), reorder(w_ih, "W"), reorder(w_hh, "R"), g.const(bias[None], b_name), ""]
    for s in states:
        if isinstance(s, Tensor):
            ins.append(g.unsqueeze(g.name(s), [0]))
        elif not np.any(s):
            ins.append("")  # zero initial state: ONNX's default, and batch-size free
        else:
            ins.append(g.const(np.asarray(s)[None], "initial_state"))
    while ins and ins[-1] == "":
        ins.pop()
    attrs: dict[str, Any] = {"hidden_size": hid}
    if node.reverse:
        attrs["direction"] = "reverse"
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Relu" if node.nonlinearity == "relu" else "Tanh"]
    outs = g.node(op, ins, 3 if op == "LSTM" else 2, **attrs)
    seq = g.squeeze(outs[0], [1])  # (T, 1, B, H) -> (T, B, H)
    if op != "LSTM":
        g.scans[seq] = (seq, None, x.shape[0])
        return seq
    rows = g.node("Concat", [seq, outs[2]], axis=0)  # chainrule's LSTM rows: h_0..h_{T-1}, c_T
    g.scans[rows] = (seq, outs[2], x.shape[0])
    return rows


register(HANDLERS)
