"""ParamUnary: an elementwise op of x alone, with constant array parameters broadcast with it.

The shape of the special functions with an order or a shape parameter that carries no
derivative (jn(n, x), iv(v, x), gammainc(a, x), betainc(a, b, x)). One ``derivative(x, y,
*params)`` serves both modes; it is written with the rule helpers (and may call the op itself
at other parameters), so every order works. The values are SciPy's, computed on the host: for a
device input, x and the params are copied to the host and the value back to x's device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function
from chainrule.ops import rules as R
from chainrule.ops.elementwise import lift

NDArray = np.ndarray


class ParamUnary(Function):
    """y = fn(x, *params), params constant arrays broadcast with x (mask-safe rules).

    The value is computed in float64 (on the host: ``fn`` is SciPy's) and returned in x's float
    dtype on x's device; the params are kept in that dtype and on that device for the rules, so
    float32 stays float32.
    """

    n_in = 1
    name = "param_unary"

    @staticmethod
    def fn(x: NDArray, *params: NDArray) -> NDArray:
        raise NotImplementedError

    @staticmethod
    def derivative(x: Any, y: Any, *params: NDArray) -> Any:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, x: NDArray, *params: Any) -> NDArray:
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        host = [np.asarray(B.asnumpy(p), np.float64) for p in params]
        with np.errstate(all="ignore"):
            y = np.asarray(cls.fn(B.asnumpy(x).astype(np.float64), *host))
        ctx.saved = (x, B.move_like(y.astype(x.dtype, copy=False), x))
        ctx.params = tuple(B.move_like(p.astype(x.dtype, copy=False), x) for p in host)
        return ctx.saved[1]

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> Any:
        x, y = ctx.saved
        with np.errstate(all="ignore"):
            return R.sum_to(R.mask_safe(g, cls.derivative(x, y, *ctx.params)), x.shape,
                            ctx.batch)

    @classmethod
    def jvp(cls, ctx: Context, dx: Any) -> Any:
        x, y = ctx.saved
        (dx,) = lift(ctx, dx)
        with np.errstate(all="ignore"):
            return R.mask_safe(dx, cls.derivative(x, y, *ctx.params))


def apply(cls: Any, x: Any, *params: Any) -> Any:
    """cls on an ndarray (plain forward, for rules) or a Tensor (recorded)."""
    return R.apply_op(cls, x, *params)
