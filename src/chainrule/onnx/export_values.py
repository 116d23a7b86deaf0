"""Export of values computed outside the graph: masks and indices (``x > 0``, ``~m``, ``argmax``,
a cast to an integer dtype) that ``autodiff.function.values`` makes.

The recorded graph does not hold them: they have no derivative. While the exporter runs the
model, ``function.TRACE`` keeps what made each (the function and its arguments), and here they
become ONNX nodes on their arguments, so that a ``where(x > 0, ...)`` follows the input at run
time instead of keeping the example's mask. One that has no translation is an error: written as
a constant, it would give other inputs the example's values.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from chainrule.backend import asnumpy
from chainrule.onnx._deps import UnsupportedOpError
from chainrule.tensor import Tensor

_COMPARE = {np.greater: "Greater", np.less: "Less", np.equal: "Equal",
            np.greater_equal: "GreaterOrEqual", np.less_equal: "LessOrEqual"}
_LOGICAL = {np.logical_and: "And", np.logical_or: "Or", np.logical_xor: "Xor"}
_UNARY = {np.sign: "Sign", np.isnan: "IsNaN", np.isinf: "IsInf"}


def translate(g: Any, fn: Any, args: tuple, out: np.ndarray) -> str:
    """The value name of out = fn(*args), written as ONNX nodes."""
    if fn in _COMPARE or fn is np.not_equal:
        a, b = _operands(g, args)
        if fn is np.not_equal:
            return g.node("Not", [g.node("Equal", [a, b])])
        return g.node(_COMPARE[fn], [a, b])
    if fn in _LOGICAL:
        return g.node(_LOGICAL[fn], [_cast(g, a, np.bool_) for a in _operands(g, args)])
    if fn in (np.invert, np.logical_not) and _dtype(args[0]) == np.bool_:
        return g.node("Not", [g.name(args[0])])
    if fn in _UNARY:
        return g.node(_UNARY[fn], [g.name(args[0])])
    if fn is np.isfinite:
        x = g.name(args[0])
        return g.node("Not", [g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])])
    if isinstance(fn, operator.methodcaller):
        name, call = fn.__reduce__()[1][0], fn.__reduce__()[1][1:]
        if name == "astype" and len(call) == 1:
            return _cast(g, g.name(args[0]), np.dtype(call[0]), _dtype(args[0]))
    if isinstance(fn, functools.partial) and fn.func is np.round and set(fn.keywords) == {
            "decimals"} and fn.keywords["decimals"] >= 0 and _dtype(args[0]).kind in "iub":
        return g.name(args[0])  # np.round of integers: themselves
    if isinstance(fn, functools.partial) and fn.func in (np.all, np.any) and not fn.args and \
            set(fn.keywords) <= {"axis", "keepdims"}:
        return _all_any(g, fn.func, fn.keywords.get("axis"), fn.keywords.get("keepdims", False),
                        args[0])
    if isinstance(fn, functools.partial) and not fn.keywords and len(fn.args) == 3 and \
            fn.args[0] in (np.argmax, np.argmin) and getattr(fn.func, "__name__", "") == "_indices":
        return _arg_index(g, fn.args, args[0])
    what = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", repr(fn))
    raise UnsupportedOpError(
        f"onnx export: {what} computed values of shape {tuple(np.shape(out))} from the model's "
        "values outside the recorded graph and has no ONNX translation; written as a constant "
        "it would give every input the example's values")


def _dtype(a: Any) -> np.dtype:
    return a._data.dtype if isinstance(a, Tensor) else np.asarray(asnumpy(a)).dtype


def _operands(g: Any, args: tuple) -> list[str]:
    """Names of a binary function's operands in the dtype NumPy computes it in (a Python number
    takes the other operand's)."""
    arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    common = np.result_type(*[a if isinstance(a, int | float | bool) else np.asarray(asnumpy(a))
                              for a in arrays])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(_cast(g, g.name(a), common, a._data.dtype))
        else:
            out.append(g.const(np.asarray(asnumpy(a), dtype=common)))
    return out


def _cast(g: Any, name: str, to: Any, have: Any = None) -> str:
    """name cast to dtype to (nothing written when it has that dtype already)."""
    if have is not None and np.dtype(have) == np.dtype(to):
        return name
    return g.node("Cast", [name], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(to)))


def _arg_index(g: Any, params: tuple, x: Any) -> str:
    """argmax / argmin over an axis (None: the flattened array), as int64."""
    fn, axis, keepdims = params
    name = g.name(x)
    op = "ArgMax" if fn is np.argmax else "ArgMin"
    if axis is None:
        flat = g.node("Reshape", [name, g.ints([-1])])
        out = g.node(op, [flat], axis=0, keepdims=0)
        if keepdims:
            out = g.node("Reshape", [out, g.ints([1] * x.ndim)])
        return out
    return g.node(op, [name], axis=int(axis), keepdims=int(bool(keepdims)))


def _all_any(g: Any, fn: Any, axis: Any, keepdims: bool, x: Any) -> str:
    """all / any over axes (None: every axis) as a reduction of x != 0 cast to int32."""
    ndim = x.ndim if isinstance(x, Tensor) else np.ndim(x)
    axes = list(range(ndim)) if axis is None else [
        int(a) % ndim for a in (axis if isinstance(axis, tuple | list) else (axis,))]
    name = g.name(x)
    if _dtype(x) != np.bool_:
        name = g.node("Not", [g.node("Equal", [name, g.const(np.zeros((), _dtype(x)))])])
    ints = _cast(g, name, np.int32)
    op = "ReduceMin" if fn is np.all else "ReduceMax"
    keep = int(bool(keepdims))
    if g.opset >= 18:
        out = g.node(op, [ints, g.ints(axes, "axes")], keepdims=keep)
    else:
        out = g.node(op, [ints], axes=axes, keepdims=keep)
    return _cast(g, out, np.bool_)
