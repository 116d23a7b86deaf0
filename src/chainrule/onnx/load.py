"""Import: an ONNX graph as a chainrule Module (initializers become Parameters)."""

from __future__ import annotations

import os
from typing import IO, Any

import numpy as np

from chainrule.nn.module import Module, Parameter
from chainrule.onnx._deps import UnsupportedOpError, require
from chainrule.tensor import Tensor

# inputs that hold statistics, not weights: buffers, so optimizers leave them alone
_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}


class OnnxModule(Module):
    """Runs an ONNX graph with chainrule ops; float initializers are its Parameters.

    Parameter names are the initializer names, so a chainrule or PyTorch export keeps its
    state-dict keys. ``forward`` takes the graph inputs in order and returns one Tensor, or a
    tuple when the graph has several outputs.
    """

    def __init__(self, proto: Any) -> None:
        super().__init__()
        from chainrule.onnx.load_ops import OPS

        numpy_helper, helper = require().numpy_helper, require().helper
        graph = proto.graph
        unknown = sorted({f"{n.domain + '::' if n.domain not in ('', 'ai.onnx') else ''}"
                          f"{n.op_type}" for n in graph.node
                          if n.op_type not in OPS or n.domain not in ("", "ai.onnx")})
        if unknown:
            raise UnsupportedOpError(f"onnx load: unsupported ONNX op(s) {', '.join(unknown)}; "
                                     f"supported: {', '.join(sorted(OPS))}")
        stats = {n.input[i] for n in graph.node for i in _BUFFER_INPUTS.get(n.op_type, ())
                 if i < len(n.input)}
        self._constants: dict[str, np.ndarray] = {}
        for init in graph.initializer:
            arr = np.array(numpy_helper.to_array(init))
            if arr.dtype.kind != "f":
                self._constants[init.name] = arr
            elif init.name in stats:
                self.register_buffer(init.name, arr)
            else:
                self.register_parameter(init.name, Parameter(arr))
        known = {i.name for i in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in known]
        self.output_names = [o.name for o in graph.output]
        self._nodes = []
        for n in graph.node:
            attrs = {a.name: _attribute(helper, numpy_helper, a) for a in n.attribute}
            attrs["_op"] = n.op_type
            self._nodes.append((OPS[n.op_type], list(n.input), list(n.output), attrs))

    def forward(self, *inputs: Any) -> Any:
        """The graph's outputs for inputs (Tensors or arrays), in graph-input order."""
        if len(inputs) != len(self.input_names):
            raise TypeError(f"onnx model takes {len(self.input_names)} input(s) "
                            f"({', '.join(self.input_names)}), got {len(inputs)}")
        env: dict[str, Any] = {**self._constants, **self._buffers, **self._parameters}
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        for fn, ins, outs, attrs in self._nodes:
            result = fn(attrs, *[env[i] if i else None for i in ins])
            if len(outs) == 1:
                env[outs[0]] = result
            else:
                for name, value in zip(outs, result):
                    if name:
                        env[name] = value
        out = tuple(_tensor(env[name]) for name in self.output_names)
        return out[0] if len(out) == 1 else out


def _tensor(v: Any) -> Tensor:
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v))


def _attribute(helper: Any, numpy_helper: Any, attr: Any) -> Any:
    """An attribute's value: numbers, lists, str (not bytes), tensors as ndarrays."""
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    if hasattr(value, "dims") and hasattr(value, "data_type"):
        return numpy_helper.to_array(value)
    return value


def load(f: str | os.PathLike | IO[bytes] | Any) -> OnnxModule:
    """An ONNX model (a path, a file, or a ModelProto) as a chainrule Module."""
    onnx = require()
    proto = f if isinstance(f, onnx.ModelProto) else onnx.load(f)
    return OnnxModule(proto)
