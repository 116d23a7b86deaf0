"""Function transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian (JAX's names)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autodiff import reverse
from chainrule.autodiff.forward import Identity, attach, drop_level, tangent_of
from chainrule.autodiff.modes import STATE, enable_grad, forward_level, reverse_transform
from chainrule.autodiff.zero import ZERO
from chainrule.dtypes import as_array
from chainrule.tensor import Tensor


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = as_array(x)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name}: inputs to differentiate must be floating, got {arr.dtype}")
    return Tensor._make(arr, False, None)


def _differentiable_input(x: Any, name: str) -> Tensor:
    """A Tensor standing for x whose gradient can be read off, still linked to any outer graph."""
    t = _as_tensor(x, name)
    if t._data.dtype.kind != "f":
        raise TypeError(f"{name}: inputs to differentiate must be floating, got {t._data.dtype}")
    if t.requires_grad:
        return Identity.apply(t)
    leaf = Tensor._make(t._data, True, None)
    leaf._tangents = t._tangents
    return leaf


def _argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for {nargs} arguments")
    return tuple(i % nargs for i in nums)


def _needs_graph(args: Sequence[Any], depth: int = 1) -> bool:
    """Whether the backward must be recorded: an outer reverse transform or graph is watching."""
    if STATE.reverse_depth > depth:
        return True
    return STATE.grad_enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)


def _contiguous(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _wrap(g: Any, like: Tensor, keep_graph: bool) -> Tensor:
    """A gradient as a Tensor: with its graph if kept, with its tangents if it has any."""
    if g is None:
        return Tensor._make(np.zeros_like(like._data), False, None)
    if isinstance(g, Tensor):
        if keep_graph or g._tangents:
            return g
        return Tensor._make(_contiguous(g._data), False, None)
    return Tensor._make(_contiguous(g), False, None)


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """f and its gradient with respect to the arguments in argnums, in one reverse pass."""

    def wrapped(*args: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), "grad")
        with reverse_transform(), enable_grad():
            keep = _needs_graph(args)
            new_args = list(args)
            for i in nums:
                new_args[i] = _differentiable_input(args[i], "grad")
            result = f(*new_args)
            out, aux = result if has_aux else (result, None)
            if not isinstance(out, Tensor) and isinstance(out, float | np.ndarray | np.floating):
                out = Tensor._make(np.asarray(out), False, None)  # a constant: zero gradient
            if not isinstance(out, Tensor) or out._data.size != 1 or out._data.dtype.kind != "f":
                what = (f"a tensor of shape {out._data.shape} and dtype {out._data.dtype}"
                        if isinstance(out, Tensor) else type(out).__name__)
                raise TypeError(f"grad: f must return a float scalar tensor, got {what}")
            wrt = [new_args[i] for i in nums]
            if out.requires_grad:
                grads = reverse.run(out, np.ones_like(out._data), retain_graph=keep,
                                    create_graph=keep, inputs=wrt)
            else:
                grads = [None] * len(wrt)
        gs = tuple(_wrap(g, w, keep) for g, w in zip(grads, wrt))
        value = out if keep else out.detach()
        g_out = gs[0] if isinstance(argnums, int) else gs
        return ((value, aux), g_out) if has_aux else (value, g_out)

    return wrapped


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The gradient of scalar-valued f with respect to the arguments in argnums."""
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any) -> Any:
        (value, g) = vg(*args)
        return (g, value[1]) if has_aux else g

    return wrapped


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Tensor, Callable[[Any], tuple]]:
    """f(*primals) and a function mapping an output cotangent to one cotangent per primal."""
    with reverse_transform(), enable_grad():
        keep = _needs_graph(primals)
        xs = [_differentiable_input(p, "vjp") for p in primals]
        out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"vjp: f must return a Tensor, got {type(out).__name__}")

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        # vjp_fn is linear in the cotangent and differentiable in it (as JAX's): a cotangent
        # that carries tangents or requires grad is kept as a Tensor, so the backward pass
        # pushes its tangents through the rules and records its graph (create_graph).
        live = keep
        if isinstance(cotangent, Tensor):
            if cotangent.requires_grad and STATE.grad_enabled:
                live = True
            ct = cotangent if live or cotangent._tangents else np.asarray(
                cotangent._data, dtype=out._data.dtype)
        else:
            ct = np.asarray(cotangent, dtype=out._data.dtype)
        shape = ct.shape
        if shape[len(shape) - out._data.ndim:] != out._data.shape or len(shape) < out._data.ndim:
            raise ValueError(
                f"vjp: cotangent of shape {shape} does not match the output's shape "
                f"{out._data.shape} (leading batch axes allowed)"
            )
        nb = len(shape) - out._data.ndim
        if not out.requires_grad:
            return tuple(Tensor._make(np.zeros(shape[:nb] + x._data.shape, x._data.dtype), False,
                                      None) for x in xs)
        with reverse_transform():
            gs = reverse.run(out, ct, retain_graph=True, create_graph=live, inputs=xs,
                             link_saved=keep)
        return tuple(
            _wrap(g, x, live) if g is not None else Tensor._make(
                np.zeros(shape[:nb] + x._data.shape, x._data.dtype), False, None)
            for g, x in zip(gs, xs))

    return (out if keep else out.detach()), vjp_fn


def _tangent_value(t: Any, primal: Tensor) -> Any:
    if isinstance(t, Tensor):
        d = t if t.requires_grad or t._tangents else t._data
    else:
        d = np.asarray(t)
    shape = d.shape
    ps = primal._data.shape
    if len(shape) < len(ps) or tuple(shape[len(shape) - len(ps):]) != ps:
        raise ValueError(
            f"jvp: tangent of shape {tuple(shape)} does not match its primal's shape {ps} "
            "(leading batch axes allowed)"
        )
    dt = primal._data.dtype
    if isinstance(d, np.ndarray) and d.dtype != dt:
        d = d.astype(dt)
    return d


def jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
) -> tuple[Tensor, Tensor]:
    """Forward mode: f(*primals) and its directional derivative along tangents, in one pass."""
    return _jvp(f, primals, tangents, contiguous=True)


def _jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], contiguous: bool
) -> tuple[Tensor, Tensor]:
    """jvp; with contiguous=False the tangent may come back in any memory layout."""
    fix = _contiguous if contiguous else np.asarray
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with forward_level() as level:
        xs = []
        bshape: tuple = ()
        for p, t in zip(primals, tangents):
            pt = _as_tensor(p, "jvp")
            d = _tangent_value(t, pt)
            bshape = tuple(d.shape[: len(d.shape) - pt.ndim])
            xs.append(attach(pt, level, d))
        out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"jvp: f must return a Tensor, got {type(out).__name__}")
        d = tangent_of(out, level)
        primal = drop_level(out, level)
    if d is ZERO:
        d = np.zeros(bshape + out._data.shape, out._data.dtype)
    if isinstance(d, np.ndarray):
        d = Tensor._make(fix(d), False, None)
    if not (STATE.fw_levels or _needs_graph((*primals, *tangents), depth=0)):
        primal, d = primal.detach(), Tensor._make(fix(d._data), False, None)
    return primal, d


def jacobian(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, mode: str = "auto"
) -> Callable[..., Any]:
    """The Jacobian of f, shape out.shape + in.shape, by forward mode, reverse mode or auto.

    Both modes push a whole basis through one batched pass. ``auto`` picks forward mode when
    the input has fewer elements than the output (n forward directions against m reverse).
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")

    def one(args: tuple, i: int) -> Tensor:
        x = _as_tensor(args[i], "jacobian")
        use = mode
        if mode == "auto":
            out, vjp_fn = vjp(lambda xi: f(*args[:i], xi, *args[i + 1:]), x)
            use = "forward" if x._data.size < out._data.size else "reverse"
            if use == "reverse":
                return _jac_reverse(out, vjp_fn, x)
        if use == "forward":
            return _jac_forward(f, args, i, x)
        out, vjp_fn = vjp(lambda xi: f(*args[:i], xi, *args[i + 1:]), x)
        return _jac_reverse(out, vjp_fn, x)

    def wrapped(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacobian")
        jacs = tuple(one(args, i) for i in nums)
        return jacs[0] if isinstance(argnums, int) else jacs

    return wrapped


def _jac_forward(f: Callable[..., Any], args: tuple, i: int, x: Tensor) -> Tensor:
    n = x._data.size
    basis = np.eye(n, dtype=x._data.dtype).reshape((n, *x._data.shape))
    out, d = _jvp(lambda xi: f(*args[:i], xi, *args[i + 1:]), (x,), (basis,), contiguous=False)
    jac = d.reshape(n, -1).T.reshape(*out.shape, *x.shape)
    if isinstance(jac._data, np.ndarray) and not jac.requires_grad and not jac._tangents:
        jac = Tensor._make(_contiguous(jac._data), False, None)  # one copy, to row-major
    return jac


def _jac_reverse(out: Tensor, vjp_fn: Callable[[Any], tuple], x: Tensor) -> Tensor:
    m = out._data.size
    basis = np.eye(m, dtype=out._data.dtype).reshape((m, *out._data.shape))
    (g,) = vjp_fn(basis)
    return g.reshape(*out.shape, *x.shape)


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of scalar f: forward mode over reverse mode (jacobian of grad)."""
    return jacobian(grad(f, argnums), argnums, mode="forward")
