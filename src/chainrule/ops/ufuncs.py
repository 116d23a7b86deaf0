"""NumPy's ufuncs called on Tensors (``np.exp(t)``, ``ndarray + t``): chainrule's op of the same
name when it has one, so the result is a Tensor on the graph; otherwise the ufunc on the arrays,
refused when a Tensor operand is being differentiated (its result would silently leave the graph).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from chainrule.tensor import Tensor

_SAME_AS = {"absolute": "abs", "true_divide": "divide", "conjugate": "conj"}
# comparisons run the Tensor's operator (reflected when the Tensor is on the right)
_COMPARE = {"less": (operator.lt, operator.gt), "greater": (operator.gt, operator.lt),
            "less_equal": (operator.le, operator.ge), "greater_equal": (operator.ge, operator.le),
            "equal": (operator.eq, operator.eq), "not_equal": (operator.ne, operator.ne)}


def _tracked(x: Any) -> bool:
    return isinstance(x, Tensor) and (x.requires_grad or x._tangents is not None)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """The result of ``getattr(ufunc, method)(*inputs, **kwargs)`` when an input is a Tensor."""
    import chainrule as cr

    name = _SAME_AS.get(ufunc.__name__, ufunc.__name__)
    if name in _COMPARE and method == "__call__" and not kwargs and len(inputs) == 2:
        op, reflected = _COMPARE[name]
        a, b = inputs
        return op(a, b) if isinstance(a, Tensor) else reflected(b, a)
    fn = getattr(cr, name, None) if method == "__call__" and not kwargs else None
    if fn is not None:
        return fn(*inputs)
    out = kwargs.get("out", ())
    tracked = any(_tracked(x) for x in (*inputs, *out))
    if out:
        kwargs = {**kwargs, "out": tuple(_raw(o) for o in out)}
    if tracked and (out or not _discrete(ufunc, method)):
        call = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        hint = f"; use cr.{name}" if hasattr(cr, name) else ""
        raise TypeError(f"{call}: cannot record a NumPy ufunc with these arguments on a Tensor "
                        f"that requires grad (its result would leave the graph){hint}; "
                        "call .detach() first to compute on the values")
    result = getattr(ufunc, method)(*(_raw(x) for x in inputs), **kwargs)
    if out:
        from chainrule.autodiff.inplace import mark_written

        for o in out:
            if isinstance(o, Tensor):
                mark_written(o._data)
        return out[0] if len(out) == 1 else out
    return result


def _discrete(ufunc: np.ufunc, method: str) -> bool:
    """Whether the ufunc only gives bools or integers (np.isfinite, np.signbit): no gradient."""
    outs = [t.split("->")[1] for t in ufunc.types if "O" not in t]
    return method == "__call__" and all(o[0] in "?bBhHiIlLqQ" for o in outs)
