"""Export: run the model once, walk the recorded graph, write one ONNX node group per op."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from chainrule.autodiff import function
from chainrule.autodiff.modes import enable_grad
from chainrule.backend import asnumpy, is_array
from chainrule.nn.module import Module
from chainrule.onnx._deps import UnsupportedOpError, require
from chainrule.onnx.export_values import translate
from chainrule.tensor import Tensor


class GraphBuilder:
    """Collects ONNX nodes and initializers; names every value it has written."""

    def __init__(self, opset: int, batch: int | None) -> None:
        self.helper = require().helper
        self.numpy_helper = require().numpy_helper
        self.opset = opset
        self.batch = batch  # the export batch size, when the batch axis is dynamic
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[int, str] = {}  # id(Tensor) or id(Context) -> value name
        self.keep: list[Any] = []  # objects whose id() is a key of names
        self.taken: set[str] = set()
        self.inputs: list[Tensor] = []
        self.buffers: dict[str, Tensor] = {}  # the model's buffers by state-dict key
        self.keys: dict[int, str] = {}  # id(parameter or buffer) -> state-dict key
        # recurrent outputs: name -> (sequence (T, B, H), final cell state or None, T)
        self.scans: dict[str, tuple[str, str | None, int]] = {}
        # arrays function.values made while the model ran: id -> (fn, args, Tensor), and the
        # value name each was written as (export_values.py)
        self.traced: dict[int, tuple] = {}
        self.traced_names: dict[int, str] = {}

    def fresh(self, hint: str) -> str:
        """A value name not used yet, from hint."""
        name, i = hint, 0
        while name in self.taken:
            i += 1
            name = f"{hint}_{i}"
        self.taken.add(name)
        return name

    def const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        """An initializer holding value (an ndarray or number; a CUDA array is copied). An
        array the model computed outside the graph (a mask) becomes the nodes computing it."""
        made = self.traced.get(id(value))
        if made is not None and made[-1]._data is value:
            if made[0] == "op":  # an op's output passed on as an array: its node's value
                return self.names[id(made[-1])]
            name = self.traced_names.get(id(value))
            if name is None:
                name = self.traced_names[id(value)] = translate(self, made[1], made[2], value)
            return name
        arr = np.asarray(asnumpy(value), dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        """An int64 initializer (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs: Any) -> Any:
        """Append node op; returns its output name (or the list of names when n_out > 1)."""
        outs = [self.fresh(f"{op}_out") for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op, list(inputs), outs,
                                                name=self.fresh(f"{op}_node"), **attrs))
        return outs[0] if n_out == 1 else outs

    def name(self, arg: Any, like: Any = None) -> str:
        """The value name of a node argument: a recorded output, a known leaf, or a constant."""
        if isinstance(arg, Tensor):
            key = id(arg._node) if arg._node is not None else id(arg)
            if key in self.names:
                return self.names[key]
            name = self.const(arg._data, self.keys.get(id(arg), "const"))
            self.names[key] = name
            self.keep.append(arg)
            return name
        dtype = None
        if like is not None and np.asarray(asnumpy(arg)).dtype.kind in "fiub" \
                and like.dtype.kind == "f":
            dtype = like.dtype
        return self.const(arg, dtype=dtype)

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        """Unsqueeze (axes as an input from opset 13)."""
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        """Squeeze (axes as an input from opset 13)."""
        return self.node("Squeeze", [x, self.ints(axes, "axes")])


def _flatten_outputs(out: Any) -> list[Tensor]:
    """The Tensors of a model's output (a Tensor or nested tuples and lists of them)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in _flatten_outputs(o)]
    raise TypeError(f"onnx export: model output of type {type(out).__name__} is not a Tensor")


def _topological(outputs: list[Tensor], traced: dict[int, tuple]) -> list[tuple[Any, Tensor]]:
    """(node, output Tensor) pairs of the recorded graph, inputs before users. The walk goes on
    through what was computed outside it (traced: ops on values that need no gradient, masks and
    indices from function.values), whose entries count as nodes too."""
    order: list[tuple[Any, Tensor]] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack:
        t, done = stack.pop()
        node = t._node
        if node is None:
            made = traced.get(id(t._data))
            if made is None or made[-1] is not t:
                continue
            if made[0] == "values":
                if id(t) not in seen:
                    seen.add(id(t))
                    stack.extend((a, False) for a in reversed(made[2]) if isinstance(a, Tensor))
                continue
            node = made[1]
        if done:
            order.append((node, t))
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((t, True))
        stack.extend((a, False) for a in reversed(node.args) if isinstance(a, Tensor))
        # an array computed outside the graph and given to an op as an input (made a constant
        # by the op) or as a parameter (where's condition)
        for p in [*node.args, *_array_params(node)]:
            made = None if isinstance(p, Tensor) else traced.get(id(p))
            if made is not None and made[-1]._data is p:
                stack.append((made[-1], False))
    return order


def _array_params(node: Any) -> list[Any]:
    """The arrays an op keeps as attributes of its node (where's condition)."""
    d = getattr(node, "__dict__", None) or {}
    return [v for v in d.values() if is_array(v)]


def _dynamic(dynamic_axes: Any, name: str) -> dict[int, str]:
    """The dynamic axes of one input or output, as {axis: dim name}."""
    axes = (dynamic_axes or {}).get(name, {})
    if isinstance(axes, dict):
        return {int(k): str(v) for k, v in axes.items()}
    return {int(a): f"{name}_dim{a}" for a in axes}


def _value_info(helper: Any, name: str, t: Tensor, dyn: dict[int, str]) -> Any:
    """A graph input or output description, with dynamic axes named."""
    elem = helper.np_dtype_to_tensor_dtype(t._data.dtype)
    dims = [dyn.get(i, s) for i, s in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, elem, dims)


def _as_inputs(args: Any) -> list[Tensor]:
    """The example inputs as fresh Tensors (floats marked requires_grad so the graph records)."""
    if isinstance(args, Tensor | np.ndarray):
        args = (args,)
    out = []
    for a in args:
        data = a._data if isinstance(a, Tensor) else np.asarray(a)
        t = Tensor(data)
        if data.dtype.kind == "f":
            t.requires_grad_(True)
        out.append(t)
    return out


def export(model: Module, args: Any, f: str | os.PathLike | IO[bytes],
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           dynamic_axes: dict[str, Any] | None = None, opset_version: int | None = 17,
           export_params: bool = True, verbose: bool = False, training: Any = None,
           do_constant_folding: bool = True, dynamo: bool = False, **kwargs: Any) -> Any:
    """Write model, traced once on args in eval mode, to f as ONNX (PyTorch's signature).

    Returns the onnx ModelProto (after onnx.checker has passed it). Parameters and buffers
    become initializers named after their state-dict keys.
    """
    onnx = require()
    from chainrule.onnx.export_ops import HANDLERS

    opset = opset_version or 17
    if not 13 <= opset <= 21:
        raise ValueError(f"onnx export: opset_version {opset} is not supported (13 to 21)")
    inputs = _as_inputs(args)
    was_training = model.training
    model.eval()
    traced: dict[int, tuple] = {}
    function.TRACE = traced
    try:
        with enable_grad():
            outputs = _flatten_outputs(model(*inputs))
    finally:
        function.TRACE = None
        model.train(was_training)
    input_names = list(input_names or [])
    input_names += [f"input_{i}" if len(inputs) > 1 else "input"
                    for i in range(len(input_names), len(inputs))]
    output_names = list(output_names or [])
    output_names += [f"output_{i}" if len(outputs) > 1 else "output"
                     for i in range(len(output_names), len(outputs))]
    batch = inputs[0].shape[0] if dynamic_axes and inputs and inputs[0].ndim else None
    g = GraphBuilder(opset, batch)
    g.inputs = inputs
    g.traced = traced
    g.taken.update(output_names)
    for t, name in zip(inputs, input_names):
        g.names[id(t)] = g.fresh(name)
    g.buffers = dict(model.named_buffers())
    named = {**g.buffers, **dict(model.named_parameters())}
    g.keys = {id(t): key for key, t in named.items()}
    for node, out in _topological(outputs, traced):
        handler = HANDLERS.get(node.op)
        if handler is None:
            op = node.op
            raise UnsupportedOpError(
                f"onnx export: chainrule op {getattr(op, 'name', op.__name__)!r} "
                f"({op.__module__}.{op.__qualname__}) has no ONNX translation")
        g.names[id(node)] = name = handler(g, node, out)
        if out._node is not node:  # an op computed outside the graph: found by its Tensor
            g.names[id(out)] = name
            g.keep.append(out)
    graph_outputs = []
    for t, name in zip(outputs, output_names):
        g.nodes.append(g.helper.make_node("Identity", [g.name(t)], [name],
                                          name=g.fresh("output_node")))
        graph_outputs.append(_value_info(g.helper, name, t, _dynamic(dynamic_axes, name)))
    graph_inputs = [_value_info(g.helper, g.names[id(t)], t, _dynamic(dynamic_axes, name))
                    for t, name in zip(inputs, input_names)]
    used = {i for n in g.nodes for i in n.input}
    for t, name in zip(inputs, input_names):
        if t._data.dtype.kind != "f" and g.names[id(t)] not in used:
            raise UnsupportedOpError(
                f"onnx export: input {name!r} ({t._data.dtype}) reaches the outputs only "
                "through computations the recorded graph does not see (integer or boolean "
                "arithmetic, masks built with NumPy); the file would hold its example values "
                "as constants. Use it directly as an index or embedding lookup.")
    inits = [i for i in g.initializers if i.name in used]
    graph = g.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                initializer=inits)
    proto = g.helper.make_model(graph, producer_name="chainrule",
                                opset_imports=[g.helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, f)
    return proto
