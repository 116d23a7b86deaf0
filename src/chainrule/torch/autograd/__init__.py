"""torch.autograd: grad, backward, Function (PyTorch's protocol), functional, grad modes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autodiff import reverse
from chainrule.autodiff.gradcheck import gradcheck as _gradcheck
from chainrule.autodiff.modes import STATE
from chainrule.autodiff.modes import detect_anomaly as _detect_anomaly
from chainrule.backend import array_like, zeros
from chainrule.tensor import Tensor
from chainrule.torch._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.torch._missing import namespace_getattr
from chainrule.torch.autograd import function, functional
from chainrule.torch.autograd.function import Function, FunctionCtx, once_differentiable

__all__ = ["Function", "FunctionCtx", "backward", "detect_anomaly", "enable_grad", "function",
           "functional", "grad", "gradcheck", "inference_mode", "is_grad_enabled", "no_grad",
           "once_differentiable", "set_detect_anomaly", "set_grad_enabled"]


def _seq(x: Any) -> list:
    if x is None:
        return []
    return [x] if isinstance(x, Tensor) else list(x)


def _check_root(i: int, t: Tensor) -> None:
    if not t.requires_grad:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                           "grad_fn")


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The sum over outputs of d(output)/d(input) weighted by grad_outputs, one per input;
    .grad is left alone. create_graph=True records the gradients for higher derivatives."""
    outs, ins = _seq(outputs), _seq(inputs)
    gouts = _seq(grad_outputs) or [None] * len(outs)
    if len(gouts) != len(outs):
        raise RuntimeError(f"grad: got {len(gouts)} grad_outputs for {len(outs)} outputs")
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched is not supported; use cr.vjp/jacobian")
    retain = create_graph if retain_graph is None else retain_graph
    total: list[Any] = [None] * len(ins)
    for i, (out, g) in enumerate(zip(outs, gouts, strict=True)):
        _check_root(i, out)
        root_g = reverse._root_cotangent(out, g, create_graph)
        last = i == len(outs) - 1
        res = reverse.run(out, root_g, retain_graph=retain or not last,
                          create_graph=create_graph, inputs=ins)
        assert res is not None
        total = [r if t is None else t if r is None else t + r for t, r in zip(total, res)]
    result = []
    for x, g in zip(ins, total, strict=True):
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(Tensor._make(zeros(x.shape, x.dtype, x._data), False, None)
                          if materialize_grads else None)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._make(array_like(g, x._data, x.dtype), False, None)
        result.append(g)
    return tuple(result)


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables: Any = None, inputs: Any = None) -> None:
    """Accumulate gradients of tensors into the leaves' .grad (only into ``inputs`` if given)."""
    ts = _seq(tensors)
    gs = _seq(grad_tensors if grad_tensors is not None else grad_variables) or [None] * len(ts)
    if inputs is not None:
        ins = _seq(inputs)
        for x, g in zip(ins, grad(ts, ins, gs, retain_graph, create_graph, allow_unused=True),
                        strict=True):
            if g is not None:
                x.grad = g if x.grad is None else x.grad + g
        return
    retain = create_graph if retain_graph is None else retain_graph
    for i, (t, g) in enumerate(zip(ts, gs, strict=True)):
        _check_root(i, t)
        t.backward(g, retain_graph=retain or i < len(ts) - 1, create_graph=create_graph)


class detect_anomaly:
    """Context in which the first op producing NaN or Inf (forward or backward) raises."""

    def __init__(self, check_nan: bool = True) -> None:
        self._cm = _detect_anomaly()

    def __enter__(self) -> None:
        self._cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


class set_detect_anomaly:
    """Turn anomaly detection on or off (at once, and back when used as a context)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = STATE.anomaly
        STATE.anomaly = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly = self._prev


def gradcheck(func: Any, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, check_forward_ad: bool = False,
              check_backward_ad: bool = True, **_: Any) -> bool:
    """Reverse mode (and forward mode with check_forward_ad=True, as PyTorch) against central
    finite differences, in float64."""
    ins: Sequence[Any] = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    modes = (("reverse",) if check_backward_ad else ()) + (("forward",) if check_forward_ad
                                                             else ())
    # As PyTorch: only tensors that require grad are differentiated; the rest stay fixed.
    wrt = [i for i, x in enumerate(ins) if isinstance(x, Tensor) and x.requires_grad]

    def of_wrt(*xs: Any) -> Any:
        args = list(ins)
        for i, x in zip(wrt, xs, strict=True):
            args[i] = x
        return func(*args)

    try:
        return _gradcheck(of_wrt, [ins[i] for i in wrt], eps=eps, atol=atol, rtol=rtol,
                          modes=modes)
    except Exception:
        if raise_exception:
            raise
        return False


__getattr__ = namespace_getattr(__name__)
