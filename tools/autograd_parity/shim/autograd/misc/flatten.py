"""flatten: nested tuples/lists/dicts of arrays <-> one 1-D array (written for the shim)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chainrule as cr


def _leaves(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k])]
    return [value]


def _rebuild(value: Any, pieces: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return type(value)(_rebuild(v, pieces) for v in value)
    if isinstance(value, dict):
        return {k: _rebuild(value[k], pieces) for k in sorted(value)}
    return next(pieces)


def flatten(value: Any) -> tuple[Any, Callable[[Any], Any]]:
    """The leaves raveled and concatenated, and the function that puts a vector back."""
    leaves = _leaves(value)
    shapes = [
        cr.tensor(leaf).shape if not isinstance(leaf, cr.Tensor) else leaf.shape for leaf in leaves
    ]
    flat = cr.concatenate([cr.ravel(leaf) for leaf in leaves]) if leaves else cr.zeros(0)

    def unflatten(vector: Any) -> Any:
        parts, start = [], 0
        for shape in shapes:
            n = 1
            for d in shape:
                n *= d
            parts.append(cr.reshape(vector[start : start + n], shape))
            start += n
        return _rebuild(value, iter(parts))

    return flat, unflatten


def flatten_func(func: Callable, example: Any) -> tuple[Callable, Callable, Any]:
    _ex, unflatten = flatten(example)
    _func = lambda _x, *args: flatten(func(unflatten(_x), *args))[0]  # noqa: E731
    return _func, unflatten, _ex
