"""Gradient clipping: clip_grad_norm_ and clip_grad_value_, as PyTorch's.

Both rewrite the ``.grad`` of each parameter. A gradient array is changed in place only when that
is safe: it is a plain writeable ndarray owning its memory, held by a gradient Tensor outside any
graph. Otherwise (a view, which may overlap another gradient or a user's array; a read-only array;
a gradient recorded with create_graph) the parameter gets a new gradient Tensor instead. A gradient
array shared by several parameters is clipped once, and all of them see the result, where PyTorch
would scale a shared gradient once per parameter holding it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import library_call
from chainrule.dtypes import get_default_dtype
from chainrule.tensor import Tensor

Params = Tensor | Iterable[Tensor]


def clip_grad_norm_(parameters: Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale gradients by min(1, max_norm / (total_norm + 1e-6)); returns total_norm.

    total_norm is the norm_type norm (inf allowed) of all gradients as one vector.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = library_call(_clip_norm, params, max_norm, float(norm_type), error_if_nonfinite)
    return Tensor._make(total, False, None)


def _clip_norm(params: list[Tensor], max_norm: float, norm_type: float,
               error_if_nonfinite: bool) -> np.ndarray:
    grads = [_array(p.grad) for p in params if p.grad is not None]
    if not grads:
        return np.zeros((), dtype=get_default_dtype())
    # As PyTorch: each gradient's norm in its own dtype, then the norm of those norms. Overflow
    # and inf * 0 give inf and NaN silently, as in PyTorch; error_if_nonfinite is the check.
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.stack([B.asarray(_vector_norm(g, norm_type)) for g in grads])
        total = B.asarray(_vector_norm(norms, norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            "non-finite, so it cannot be clipped; pass error_if_nonfinite=False to scale the "
            "gradients by the non-finite norm anyway"
        )
    coef = max_norm / (total[()] + 1e-6)  # in total's dtype, as PyTorch
    if not coef >= 1.0:  # scaling by the clamped coefficient 1.0 changes nothing; NaN scales
        c = float(coef)  # a Python float: the multiply keeps each gradient's dtype
        with np.errstate(invalid="ignore"):
            _rewrite_grads(params, lambda g, out: np.multiply(g, c, out=out))
    return total


def clip_grad_value_(parameters: Params, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    library_call(_clip_value, params, float(clip_value))


def _clip_value(params: list[Tensor], v: float) -> None:
    _rewrite_grads(params, lambda g, out: np.clip(g, -v, v, out=out))


def _array(grad: Tensor | np.ndarray) -> np.ndarray:
    return grad._data if isinstance(grad, Tensor) else B.asarray(grad)


def _vector_norm(x: np.ndarray, p: float) -> np.floating:
    """The p-norm of x flattened (p may be 0, inf or -inf), in x's dtype."""
    return np.linalg.norm(x.ravel(order="K"), ord=p)


def _rewrite_grads(params: list[Tensor],
                   fn: Callable[[np.ndarray, np.ndarray | None], np.ndarray]) -> None:
    """Set each gradient to fn(g): in place where safe (see the module docstring), else anew."""
    done: dict[int, tuple[np.ndarray, Tensor]] = {}  # id(array) -> (array kept alive, result)
    for p in params:
        grad = p.grad
        if grad is None:
            continue
        g = _array(grad)
        if id(g) in done:  # shared with an earlier parameter: already rewritten
            p.grad = done[id(g)][1]
            continue
        if (isinstance(grad, Tensor) and grad.is_leaf and not grad.requires_grad
                and g.base is None and g.flags.writeable):
            fn(g, g)
            new = grad
        else:
            new = Tensor._make(fn(g, None), False, None)
        done[id(g)] = (g, new)
        p.grad = new
