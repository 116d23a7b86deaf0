"""cr.scipy.integrate.odeint: SciPy's ODE solver, differentiable in y0, t and args.

The values are scipy.integrate.odeint's (imported on first call), with ``func`` written with
chainrule ops. Reverse mode is HIPS autograd's adjoint method (Froehlich et al. 2017, sec.
2.4.2): between output times the system is run backwards in time together with the adjoint
state a (da/dt = -a df/dy) and the accumulated cotangents of t and args, each step of it one
vjp of func. Forward mode integrates the sensitivities S (dS/dt = df/dy S + df/dargs dargs)
along with y. Both rules are themselves odeint calls on an augmented system, written with
chainrule ops, so they are differentiable again (second order runs nested adjoints); k batched
tangents or cotangents are integrated at once. SciPy's solver runs on the host: for device
inputs, func is evaluated on their device, the state making a round trip per evaluation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.autodiff.function import Context, Function, _apply
from chainrule.autodiff.transforms import jvp as _jvp
from chainrule.autodiff.transforms import vjp as _vjp
from chainrule.autodiff.tree import tree_flatten, tree_unflatten
from chainrule.autodiff.zero import ZERO
from chainrule.ops import rules as R
from chainrule.scipy._util import as_floats, scipy_module
from chainrule.tensor import Tensor

NDArray = np.ndarray


def _array(x: Any) -> NDArray:
    """x's values in float64, on x's device (other data: an ndarray)."""
    return B.asarray(x._data if isinstance(x, Tensor) else x).astype(np.float64, copy=False)


def _tensor(x: Any) -> Tensor:
    """x as a Tensor (an array becomes a constant)."""
    return x if isinstance(x, Tensor) else Tensor(B.asarray(x))


class ODEInt(Function):
    """y(t) with y' = func(y, t, *args), y(t[0]) = y0.  Reverse: the adjoint method.
    Forward: the sensitivity equations."""

    name = "odeint"

    @staticmethod
    def forward(ctx: Context, y0: NDArray, t: NDArray, *rest: Any) -> NDArray:
        *args, func, opts = rest
        dtype = y0.dtype if y0.dtype.kind == "f" else np.dtype(np.float64)

        # SciPy integrates in float64, and func is evaluated so (float32 would stall tight
        # tolerances); the result takes the inputs' dtype
        wide = [_array(a) for a in args]

        def f(y: NDArray, tt: float) -> NDArray:
            here = B.move_like(y, y0), B.move_like(np.asarray(tt, np.float64), y0)
            return B.asnumpy(_array(func(*here, *wide)))

        yt = scipy_module("integrate").odeint(f, B.asnumpy(_array(y0)), B.asnumpy(_array(t)),
                                              **opts)
        yt = B.move_like(yt.astype(dtype), y0)
        ctx.saved = (y0, t, *args, yt)
        ctx.func, ctx.opts = func, opts
        return yt

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, ...]:
        _, t, *args, yt = (_tensor(v) for v in ctx.saved)
        plain = not isinstance(g, Tensor)
        func, opts, nb = ctx.func, ctx.opts, ctx.batch
        steps, d = yt.shape
        lead = g.shape[:nb]
        k = math.prod(lead)
        gs = _tensor(g).reshape(k, steps, d)
        sizes = [a.size for a in args]
        # the augmented state: y (d), adjoint of y (k d), of t0 (k), of each arg (k size)
        cuts = np.cumsum([d, k * d, k, *(k * n for n in sizes)])

        def augmented(s: Any, tt: Any, *p: Any) -> Tensor:
            y, a = s[:d], s[d:cuts[1]].reshape(k, d)
            dy, back = _vjp(func, y, tt, *p)
            vy, vt, *vp = back(-a)
            return ops.concatenate([dy, *(v.reshape(-1) for v in (vy, vt, *vp))])

        adj_y, adj_t0 = gs[:, -1, :], R.zeros((k,), yt)
        adj_args = [R.zeros((k * n,), yt) for n in sizes]
        adj_times = []
        for i in range(steps - 1, 0, -1):
            # moving the output time t_i moves y(t_i) along f
            cur = ops.sum(gs[:, i, :] * func(yt[i], t[i], *args), axis=-1)
            adj_times.append(cur)
            adj_t0 = adj_t0 - cur
            s0 = ops.concatenate([yt[i], adj_y.reshape(-1), adj_t0, *adj_args])
            s1 = _odeint(augmented, s0, ops.stack([t[i], t[i - 1]]), args, opts)[1]
            parts = [s1[lo:hi] for lo, hi in itertools.pairwise(cuts)]
            adj_y = parts[0].reshape(k, d) + gs[:, i - 1, :]
            adj_t0, adj_args = parts[1], parts[2:]
        adj_times.append(adj_t0)
        grads = (adj_y.reshape(*lead, d), ops.stack(adj_times[::-1], axis=-1).reshape(
            *lead, steps), *(ga.reshape(*lead, *a.shape) for ga, a in zip(adj_args, args)))
        return tuple(v._data for v in grads) if plain else grads

    @staticmethod
    def jvp(ctx: Context, dy0: Any, dt: Any, *dargs: Any) -> Any:
        y0, t, *args, yt = (_tensor(v) for v in ctx.saved)
        func, opts = ctx.func, ctx.opts
        nb = getattr(ctx, "batch", 0)
        steps, d = yt.shape
        some = next(v for v in (dy0, dt, *dargs) if v is not ZERO)
        plain = not isinstance(some, Tensor)
        lead = some.shape[:nb]
        k = math.prod(lead)
        live = [i for i, v in enumerate(dargs) if v is not ZERO]
        tangents = [_tensor(dargs[i]).reshape(k, *args[i].shape) for i in live]
        s0 = (R.zeros((k, d), yt) if dy0 is ZERO
              else _tensor(dy0).reshape(k, d))
        if dt is not ZERO:
            dts = _tensor(dt).reshape(k, steps)
            s0 = s0 - dts[:, :1] * func(y0, t[0], *args)

        def augmented(s: Any, tt: Any, *p: Any) -> Tensor:
            y, sens = s[:d], s[d:].reshape(k, d)
            n = len(args)

            def f(y_: Any, *q: Any) -> Any:
                full = list(p[:n])
                for i, v in zip(live, q):
                    full[i] = v
                return func(y_, tt, *full)

            dy, ds = _jvp(f, (y, *(p[i] for i in live)), (sens, *p[n:]))
            return ops.concatenate([dy, ds.reshape(-1)])

        s = _odeint(augmented, ops.concatenate([y0, s0.reshape(-1)]), t, [*args, *tangents],
                    opts)
        out = ops.transpose(s[:, d:].reshape(steps, k, d), (1, 0, 2))
        if dt is not ZERO:
            moved = ops.stack([func(yt[i], t[i], *args) for i in range(steps)])
            out = out + dts.reshape(k, steps, 1) * moved
        out = out.reshape(*lead, steps, d)
        return out._data if plain else out


def _odeint(func: Callable[..., Any], y0: Any, t: Any, args: Any, opts: dict) -> Tensor:
    return _apply(ODEInt, (y0, t, *args), (func, opts))


def odeint(func: Callable[..., Any], y0: Any, t: Any, args: tuple = (), **kwargs: Any
           ) -> Tensor:
    """Integrate y' = func(y, t, *args) from y(t[0]) = y0, as scipy.integrate.odeint.

    ``func(y, t, *args)`` is written with chainrule ops (it is called with arrays, and
    differentiated with cr.vjp / cr.jvp); ``args`` are arrays or containers of them (a list of
    ``(W, b)`` pairs: func gets the same structure), ``kwargs`` SciPy's options (rtol, atol,
    mxstep, ...). Returns y at each time, shape (len(t), len(y0)).
    Differentiable in y0, t and args, to any order; anything else func reads is a constant.
    """
    if kwargs.get("full_output"):
        raise ValueError("odeint: full_output is not supported")
    if not isinstance(args, tuple):
        args = (args,)
    leaves, treedef = tree_flatten(args)
    if len(leaves) != len(args) or any(not _is_leaf(a) for a in args):
        user = func

        def func(y: Any, t: Any, *flat: Any) -> Any:
            return user(y, t, *tree_unflatten(treedef, flat))

        args = tuple(leaves)
    y0, t, *arrays = as_floats(y0, t, *args)
    if y0.ndim != 1 or t.ndim != 1:
        raise ValueError(f"odeint: y0 and t must be 1-d, got shapes {y0.shape} and {t.shape}")
    return _odeint(func, y0, t, arrays, kwargs)


def _is_leaf(a: Any) -> bool:
    return not isinstance(a, list | tuple | dict)


__all__ = ["odeint"]
