"""torch.autograd.functional: jacobian, hessian, vjp, jvp over chainrule's transforms."""

from __future__ import annotations

from typing import Any

from chainrule.autodiff import transforms as T
from chainrule.autodiff.modes import no_grad
from chainrule.tensor import Tensor
from chainrule.torch._missing import namespace_getattr

__all__ = ["hessian", "jacobian", "jvp", "vjp"]

_MODES = {"reverse-mode": "reverse", "forward-mode": "forward"}


def _inputs(inputs: Any) -> tuple[tuple, bool]:
    return (tuple(inputs), True) if isinstance(inputs, tuple | list) else ((inputs,), False)


def _done(t: Any, create_graph: bool) -> Any:
    if isinstance(t, tuple):
        return tuple(_done(x, create_graph) for x in t)
    return t if create_graph or not isinstance(t, Tensor) else t.detach()


def _mode(strategy: str) -> str:
    if strategy not in _MODES:
        raise ValueError(f"strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    return _MODES[strategy]


def jacobian(func: Any, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """d func / d inputs, shape out.shape + in.shape; tuples of inputs (and of outputs) give
    tuples (of tuples), as PyTorch's."""
    ins, in_tuple = _inputs(inputs)
    with no_grad():
        probe = func(*ins)
    argnums = tuple(range(len(ins)))
    mode = _mode(strategy)
    if isinstance(probe, tuple):
        rows = [T.jacobian(lambda *a, k=k: func(*a)[k], argnums, mode)(*ins)
                for k in range(len(probe))]
        res = tuple(r if in_tuple else r[0] for r in rows)
    else:
        jac = T.jacobian(func, argnums, mode)(*ins)
        res = jac if in_tuple else jac[0]
    return _done(res, create_graph)


def hessian(func: Any, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """Second derivatives of scalar func; tuple inputs give a tuple of tuples H[i][j]."""
    ins, in_tuple = _inputs(inputs)
    if not in_tuple:
        return _done(T.hessian(func)(*ins), create_graph)
    n = len(ins)
    res = tuple(tuple(T.jacobian(T.grad(func, i), j, mode="forward")(*ins) for j in range(n))
                for i in range(n))
    return _done(res, create_graph)


def vjp(func: Any, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T J): one cotangent per input."""
    ins, in_tuple = _inputs(inputs)
    out, vjp_fn = T.vjp(func, *ins)
    if v is None:
        if out._data.size != 1:
            raise RuntimeError("vjp: v can only be None if the output has a single element")
        v = Tensor(out._data * 0 + 1)
    grads = vjp_fn(v)
    return _done(out, create_graph), _done(grads if in_tuple else grads[0], create_graph)


def jvp(func: Any, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), J v) by forward mode."""
    ins, _ = _inputs(inputs)
    if v is None:
        if len(ins) != 1 or ins[0]._data.size != 1:
            raise RuntimeError("jvp: v can only be None if the input has a single element")
        v = Tensor(ins[0]._data * 0 + 1)
    vs, _ = _inputs(v)
    out, tangent = T.jvp(func, ins, vs)
    return _done(out, create_graph), _done(tangent, create_graph)


__getattr__ = namespace_getattr(__name__)
