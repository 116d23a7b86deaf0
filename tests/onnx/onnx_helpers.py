"""Shared helpers for the ONNX tests: export to bytes, run with onnxruntime, compare."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn

TOL = 1e-5
DYNAMIC = {"input": {0: "batch"}, "output": {0: "batch"}}


def export_bytes(model: nn.Module, x: np.ndarray, **kwargs: Any) -> bytes:
    """model exported (dynamic batch axis) to ONNX bytes; onnx.checker runs inside export."""
    import chainrule.onnx as cro

    buf = io.BytesIO()
    cro.export(model, (cr.tensor(x),), buf, dynamic_axes=DYNAMIC, **kwargs)
    return buf.getvalue()


def run_ort(data: bytes, x: np.ndarray) -> np.ndarray:
    """The first output of the ONNX model for input x, from onnxruntime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def run_cr(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's (first) output in eval mode, without a graph."""
    model.eval()
    with cr.no_grad():
        y = model(cr.tensor(x))
    return (y[0] if isinstance(y, tuple) else y).cpu().numpy()


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
