"""torch.autograd.Function: PyTorch's protocol (Tensors in forward and backward, ``ctx``) mapped
onto chainrule's Function (ndarrays in forward, ``vjp``/``jvp`` rules).

``apply`` runs the user's ``forward`` once, on Tensors that share the inputs' arrays, under
no_grad. The adapter's ``vjp`` calls the user's ``backward`` with Tensors: constants normally,
recorded Tensors under ``create_graph=True`` (the saved inputs are then the graph's own inputs),
so a backward written with differentiable ops gives double backward. Batched cotangents (from
``cr.jacobian``, ``cr.vmap``-like transforms) are fed one sample at a time. Several outputs are
packed into one flat array for chainrule's single-output Function and unpacked differentiably.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context
from chainrule.autodiff.function import Function as _CrFunction
from chainrule.autodiff.modes import is_grad_enabled, no_grad
from chainrule.autodiff.zero import ZERO
from chainrule.backend import array_like, asarray, is_device_array, zeros
from chainrule.ops import elementwise as E
from chainrule.ops import indexing as I
from chainrule.ops import rules as R
from chainrule.ops import shape as S
from chainrule.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "InplaceFunction", "once_differentiable"]

_SLOT = object()  # marks a Tensor argument's place among forward's arguments


class FunctionCtx:
    """PyTorch's ``ctx``: save_for_backward / saved_tensors, needs_input_grad,
    mark_non_differentiable, set_materialize_grads; any other attribute is the user's."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.to_save: tuple = ()
        self.non_differentiable: list[Any] = []
        self.materialize_grads = True
        self._saved_now: tuple | None = None

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep Tensors (inputs, outputs or None) for backward."""
        self.to_save = tensors

    save_for_forward = save_for_backward

    @property
    def saved_tensors(self) -> tuple:
        """What forward saved, as Tensors (available in backward and jvp)."""
        if self._saved_now is None:
            raise RuntimeError("saved_tensors: only available in backward (or jvp)")
        return self._saved_now

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """These outputs get no gradient (and do not require grad)."""
        self.non_differentiable.extend(outputs)

    def mark_dirty(self, *tensors: Any) -> None:
        """Accepted: forward's Tensors share the inputs' memory, so in-place writes show."""

    def set_materialize_grads(self, value: bool) -> None:
        """False: pass None (not zeros) for outputs that received no gradient."""
        self.materialize_grads = bool(value)


class _Adapter(_CrFunction):
    """A chainrule Function running one torch-style Function class (``user``)."""

    @staticmethod
    def forward(ctx: Context, *args: Any) -> np.ndarray:
        *arrays, template, tctx, info = args
        cls = ctx_user(info)
        it = iter(Tensor._make(a, False, None) for a in arrays)
        call = tuple(next(it) if a is _SLOT else a for a in template)
        with no_grad():
            if _has_setup_context(cls):
                out = cls.forward(*call)
                cls.setup_context(tctx, call, out)
            else:
                out = cls.forward(tctx, *call)
        outs = out if isinstance(out, tuple) else (out,)
        marked = {id(o) for o in tctx.non_differentiable}
        diff = [i for i, o in enumerate(outs) if isinstance(o, Tensor)
                and o.dtype.kind == "f" and id(o) not in marked]
        info.update(outs=outs, is_tuple=isinstance(out, tuple), diff=diff,
                    in_meta=[(a.shape, a.dtype) for a in arrays])
        ctx.torch_ctx, ctx.info = tctx, info
        ctx.save_for_backward(*(t._data if isinstance(t, Tensor) else t for t in tctx.to_save))
        if len(diff) == 1:
            return outs[diff[0]]._data
        if not diff:
            return zeros((), np.float64, arrays[0] if arrays else None)
        dt = np.result_type(*(outs[i]._data for i in diff))
        return np.concatenate([outs[i]._data.astype(dt, copy=False).ravel() for i in diff])

    @staticmethod
    def vjp(ctx: Any, g: Any) -> tuple:
        tctx, info = ctx.torch_ctx, ctx.info
        args, nb = ctx.args, ctx.batch
        tmode = isinstance(g, Tensor)
        saved = tuple(Tensor._make(s, False, None) if _is_array(s) else s for s in ctx.saved)
        template = info["template"]
        slots = [i for i, a in enumerate(template) if a is _SLOT]

        def one(gs: Any) -> tuple:
            grads = _unpack(info, gs if tmode else Tensor._make(asarray(gs), False, None),
                            tctx.materialize_grads)
            tctx._saved_now = saved
            try:
                res = _backward_of(ctx_user(info))(tctx, *grads)
            finally:
                tctx._saved_now = None
            res = res if isinstance(res, tuple) else (res,)
            if len(res) < len(template) or any(r is not None for r in res[len(template):]):
                raise RuntimeError(
                    f"function {ctx_user(info).__name__}Backward returned an incorrect number "
                    f"of gradients (expected {len(template)}, got {len(res)})")
            return tuple(_cotangent(res[p], a, k, info, tmode)
                         for k, (p, a) in enumerate(zip(slots, args, strict=True)))

        return _per_sample(one, g, nb, len(args), tmode)

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        tctx, info = ctx.torch_ctx, ctx.info
        cls = ctx_user(info)
        if getattr(cls, "jvp", None) is None:
            raise NotImplementedError(
                f"{cls.__name__}: forward-mode AD needs a jvp(ctx, *grad_inputs) staticmethod")
        nb = ctx.batch
        tmode = any(isinstance(t, Tensor) for t in tangents)
        saved = tuple(Tensor._make(s, False, None) if _is_array(s) else s for s in ctx.saved)
        template, meta = info["template"], info["in_meta"]

        def one(*ts: Any) -> Any:
            call, k = [], 0
            ref = next((t._data if isinstance(t, Tensor) else t for t in ts if t is not ZERO),
                       None)  # a given tangent: zero ones are made on its device
            for a in template:
                if a is not _SLOT:
                    call.append(None)
                    continue
                t, (shape, dt) = ts[k], meta[k]
                k += 1
                call.append(Tensor._make(zeros(shape, dt, ref), False, None) if t is ZERO
                            else t if isinstance(t, Tensor)
                            else Tensor._make(asarray(t), False, None))
            tctx._saved_now = saved
            try:
                out = cls.jvp(tctx, *call)
            finally:
                tctx._saved_now = None
            outs = out if isinstance(out, tuple) else (out,)
            packed = _pack(info, outs)
            return packed if tmode else packed._data

        return _per_sample_tangent(one, tangents, nb, tmode)


def _is_array(a: Any) -> bool:
    return isinstance(a, np.ndarray | np.generic) or is_device_array(a)


def ctx_user(info: dict) -> Any:
    """The user's Function class of this call."""
    return info["cls"]


def _has_setup_context(cls: Any) -> bool:
    return getattr(cls, "setup_context", None) is not None


def _backward_of(cls: Any) -> Any:
    """The user's backward (or vjp, PyTorch's alias for it)."""
    if cls.vjp is not Function.vjp:
        if cls.backward is not Function.backward:
            raise RuntimeError(f"{cls.__name__}: implementing both 'backward' and 'vjp' is not "
                               "allowed; implement only one")
        return cls.vjp
    return cls.backward


def _unpack(info: dict, g: Tensor, materialize: bool) -> list:
    """One cotangent per forward output from the packed cotangent g."""
    outs, diff = info["outs"], info["diff"]
    grads: list[Any] = [None] * len(outs)
    if len(diff) == 1:
        grads[diff[0]] = g
    else:
        off = 0
        for i in diff:
            o = outs[i]
            n = o._data.size
            piece = S.reshape(I.getitem(g, (slice(off, off + n),)), o.shape)
            grads[i] = piece if piece.dtype == o.dtype else E.astype(piece, o.dtype)
            off += n
    if materialize:
        grads = [Tensor._make(zeros(o.shape, o.dtype, o._data), False, None)
                 if gr is None and isinstance(o, Tensor) else gr
                 for gr, o in zip(grads, outs, strict=True)]
    return grads


def _pack(info: dict, outs: tuple) -> Tensor:
    """The differentiable outputs' values (or tangents) packed as forward packs them."""
    diff = info["diff"]
    if len(diff) == 1:
        return outs[diff[0]]
    dt = np.result_type(*(info["outs"][i]._data for i in diff))
    return S.concatenate([S.reshape(E.astype(outs[i], dt), (-1,)) for i in diff], 0)


def _cotangent(gi: Any, x: Any, k: int, info: dict, tmode: bool) -> Any:
    """The user's gradient for input x, checked and put in x's shape and dtype."""
    if gi is None or not isinstance(x, Tensor) or not x.requires_grad:
        return None
    if not isinstance(gi, Tensor):
        gi = Tensor._make(array_like(gi, x._data, x.dtype), False, None)
    if gi.shape != x.shape:
        try:
            np.broadcast_shapes(gi.shape, x.shape)
            gi = R.sum_to(gi, x.shape) if np.broadcast_shapes(gi.shape, x.shape) == gi.shape \
                else None
        except ValueError:
            gi = None
        if gi is None:
            raise RuntimeError(
                f"Function {info['cls'].__name__}Backward returned an invalid gradient at index "
                f"{k} - expected shape compatible with {list(x.shape)}")
    if gi.dtype != x.dtype:
        gi = E.astype(gi, x.dtype)
    return gi if tmode else gi._data


def _per_sample(fn: Any, g: Any, nb: int, n_in: int, tmode: bool) -> tuple:
    """fn on g, or on each sample of g's nb leading batch axes with the results stacked."""
    if not nb:
        return fn(g)
    lead = g.shape[:nb]
    rows = [fn(g[idx] if not tmode else I.getitem(g, idx)) for idx in np.ndindex(*lead)]
    return tuple(_stack([r[k] for r in rows], lead, tmode) for k in range(n_in))


def _per_sample_tangent(fn: Any, tangents: tuple, nb: int, tmode: bool) -> Any:
    """fn on the tangents, or per sample of their nb leading batch axes, stacked."""
    if not nb:
        return fn(*tangents)
    lead = next(t.shape[:nb] for t in tangents if t is not ZERO)

    def pick(t: Any, idx: tuple) -> Any:
        return t if t is ZERO else I.getitem(t, idx) if isinstance(t, Tensor) else t[idx]

    rows = [fn(*(pick(t, idx) for t in tangents)) for idx in np.ndindex(*lead)]
    return _stack(rows, lead, tmode)


def _stack(values: list, lead: tuple, tmode: bool) -> Any:
    if any(v is None for v in values):
        return None
    if tmode:
        flat = S.stack(values, 0)
        return S.reshape(flat, lead + flat.shape[1:])
    flat = np.stack(values)
    return flat.reshape(lead + flat.shape[1:])


def _adapter(cls: Any, n: int) -> type:
    cache = cls.__dict__.get("_chainrule_adapters")
    if cache is None:
        cache = {}
        type.__setattr__(cls, "_chainrule_adapters", cache)
    if n not in cache:
        cache[n] = type(f"{cls.__name__}Backward", (_Adapter,),
                        {"n_in": n, "name": cls.__name__})
    return cache[n]


class Function:
    """PyTorch's custom autograd Function: subclass with staticmethods ``forward(ctx, *args)``
    (Tensors in, Tensor or tuple out) and ``backward(ctx, *grads)`` (one gradient per forward
    argument, None for non-Tensors), optionally ``jvp(ctx, *tangents)``; call ``apply``.
    ``forward(*args)`` with a separate ``setup_context(ctx, inputs, output)`` works too."""

    setup_context: Any = None
    jvp: Any = None

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must define forward")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("Function subclasses must define backward to be differentiated")

    vjp = backward  # PyTorch's alias: a subclass may define either

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward and record one node whose rules call backward (and jvp)."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply: keyword arguments are not supported "
                            "(pass them positionally, as PyTorch requires)")
        tensors = [a for a in args if isinstance(a, Tensor)]
        template = tuple(_SLOT if isinstance(a, Tensor) else a for a in args)
        grad_on = is_grad_enabled()
        tctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad and grad_on
                                 for a in args))
        info: dict[str, Any] = {"cls": cls, "template": template}
        packed = _adapter(cls, len(tensors)).apply(*tensors, template, tctx, info)
        outs, diff = list(info["outs"]), info["diff"]
        if packed.requires_grad or packed._tangents is not None:
            if len(diff) == 1:
                outs[diff[0]] = packed
            else:
                off = 0
                for i in diff:
                    o = outs[i]
                    piece = S.reshape(I.getitem(packed, (slice(off, off + o._data.size),)),
                                      o.shape)
                    outs[i] = piece if piece.dtype == o.dtype else E.astype(piece, o.dtype)
                    off += o._data.size
        return tuple(outs) if info["is_tuple"] else outs[0]


class InplaceFunction(Function):
    """PyTorch's base for Functions that may work in place (same protocol here)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace


def once_differentiable(fn: Any) -> Any:
    """Mark a backward as not differentiable: it runs under no_grad."""

    @functools.wraps(fn)
    def wrapped(ctx: Any, *grads: Any) -> Any:
        with no_grad():
            return fn(ctx, *grads)

    return wrapped
