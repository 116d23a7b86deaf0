"""Fused neural-network ops: linear, erf/GELU, leaky ReLU, ELU, normalization, cross-entropy.

Each is one op whose rules are cheaper than the graph of its parts. Rules are written with the
helpers of ``rules.py`` so they serve ndarrays, Tensors (higher order) and batched tangents.
Values that a rule needs and that forward already computed (log-probabilities, normalized
inputs) are kept on the context for the first-order (ndarray) backward; a differentiable
backward recomputes them from the saved inputs with recorded ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function, _apply1
from chainrule.autodiff.zero import ZERO
from chainrule.backend import asarray
from chainrule.dtypes import to_float
from chainrule.ops import rules as R
from chainrule.ops.elementwise import Unary, lift, promote
from chainrule.ops.reduction import LogSoftmax
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray

# ----- erf (Cephes' rational approximations, S. L. Moshier, public domain) -----
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _poly(x: NDArray, coefs: tuple[float, ...]) -> NDArray:
    """Horner's rule: coefs[0] x^n + ... + coefs[n], in x's dtype."""
    acc = np.full_like(x, coefs[0])
    for c in coefs[1:]:
        acc *= x
        acc += c
    return acc


def erf_array(x: NDArray) -> NDArray:
    """erf of an ndarray, to about 1e-16 relative in float64 (NumPy has no erf)."""
    x = to_float(asarray(x))
    out = np.empty_like(x)
    a = np.abs(x)
    small = a <= 1.0
    xs = x[small]
    z = xs * xs
    out[small] = xs * _poly(z, _ERF_T) / _poly(z, _ERF_U)
    big = ~small
    if big.any():
        ab = np.minimum(a[big], 30.0)  # erfc(30) underflows to 0; also keeps inf finite
        mid = ab < 8.0
        ratio = np.where(mid, _poly(ab, _ERFC_P) / _poly(ab, _ERFC_Q),
                         _poly(ab, _ERFC_R) / _poly(ab, _ERFC_S))
        erfc = np.exp(-ab * ab) * ratio
        out[big] = np.copysign(1.0 - erfc, x[big])
    nan = np.isnan(x)
    if nan.any():
        out[nan] = np.nan
    return out


def _erf(x: Any) -> Any:
    """erf of an ndarray (plain) or a Tensor (recorded)."""
    return _apply1(Erf, x) if isinstance(x, Tensor) else erf_array(x)


class Erf(Unary):
    """erf x.  Derivative: 2/sqrt(pi) exp(-x^2)."""

    name = "erf"
    fn = staticmethod(erf_array)

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return _TWO_OVER_SQRT_PI * R.exp(-(x * x))


class Gelu(Unary):
    """x Phi(x), Phi(x) = (1 + erf(x/sqrt 2))/2.  Derivative: Phi(x) + x phi(x)."""

    name = "gelu"

    @staticmethod
    def fn(x: NDArray) -> NDArray:
        with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as in PyTorch
            return 0.5 * x * (1.0 + erf_array(x * _SQRT1_2))

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        return 0.5 * (1.0 + _erf(x * _SQRT1_2)) + x * (_INV_SQRT_2PI * R.exp(-0.5 * (x * x)))


class GeluTanh(Unary):
    """x (1 + tanh u)/2, u = sqrt(2/pi)(x + 0.044715 x^3).

    Derivative: (1 + t)/2 + x (1 - t^2) u'/2, t = tanh u, u' = sqrt(2/pi)(1 + 3*0.044715 x^2).
    """

    name = "gelu_tanh"

    @staticmethod
    def fn(x: NDArray) -> NDArray:
        with np.errstate(invalid="ignore", over="ignore"):  # -inf * 0 is NaN, as in PyTorch
            return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + _GELU_K * x * x * x)))

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        x2 = x * x
        t = R.tanh(_GELU_C * (x + _GELU_K * x2 * x))
        du = _GELU_C * (1.0 + 3.0 * _GELU_K * x2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du


class ParamUnary(Function):
    """Elementwise y = fn(x, a) for a constant a; ``derivative(x, y, a)`` serves both modes."""

    n_in = 1
    name = "param_unary"

    @staticmethod
    def fn(x: NDArray, a: float) -> NDArray:
        raise NotImplementedError

    @staticmethod
    def derivative(x: Any, y: Any, a: float) -> Any:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, x: NDArray, a: float) -> NDArray:
        x = to_float(x)
        y = cls.fn(x, a)
        ctx.saved = (x, y)
        ctx.a = a
        return y

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> Any:
        x, y = ctx.saved
        return g * cls.derivative(x, y, ctx.a)

    @classmethod
    def jvp(cls, ctx: Context, dx: Any) -> Any:
        x, y = ctx.saved
        return dx * cls.derivative(x, y, ctx.a)


class LeakyRelu(ParamUnary):
    """x if x > 0 else a x.  Derivative: 1 if x > 0 else a (a constant, so no second order)."""

    name = "leaky_relu"

    @staticmethod
    def fn(x: NDArray, a: float) -> NDArray:
        return np.where(x > 0, x, x * a)

    @staticmethod
    def derivative(x: Any, y: Any, a: float) -> Any:
        v = R.value(x)
        return np.where(v > 0, v.dtype.type(1), v.dtype.type(a))


class Elu(ParamUnary):
    """x if x > 0 else a (e^x - 1).  Derivative: 1 if x > 0 else y + a (= a e^x)."""

    name = "elu"

    @staticmethod
    def fn(x: NDArray, a: float) -> NDArray:
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def derivative(x: Any, y: Any, a: float) -> Any:
        v = R.value(x)
        return R.where(v > 0, v.dtype.type(1), y + a)


# ----- linear -----
class Linear(Function):
    """x W^T + b with W stored (out, in).

    Reverse: (g W, g^T x, sum g over samples); g^T x comes out C-contiguous in W's layout.
    Forward: dx W^T + x dW^T + db.
    """

    name = "linear"

    @staticmethod
    def forward(ctx: Context, x: NDArray, w: NDArray, b: NDArray | None = None) -> NDArray:
        x, w = promote("linear", x, w)
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                             f"{w.shape} (expected (..., {w.shape[-1]}) @ (out, in)^T)")
        out = R.matmul_t(x.reshape(-1, w.shape[1]) if x.ndim != 2 else x, w)
        if b is not None:
            if b.shape != (w.shape[0],):
                raise ValueError(f"linear: bias of shape {b.shape} does not match weight of "
                                 f"shape {w.shape}")
            out, b = promote("linear", out, b)
            out += b
        ctx.saved = (x, w)
        return out.reshape((*x.shape[:-1], w.shape[0]))

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, ...]:
        x, w = ctx.saved
        nb = ctx.batch
        need = ctx.needs_input_grad
        n_out, n_in = w.shape
        gx = R.matmul(g, w) if need[0] else None
        gw = None
        if need[1]:
            g2 = R.reshape(g, (*g.shape[:nb], -1, n_out)) if x.ndim != 2 else g
            x2 = R.reshape(x, (-1, n_in)) if x.ndim != 2 else x
            gw = R.matmul(R.mT(g2), x2)  # (out, in), C-contiguous: never a transposed view
        if len(need) == 2:
            return gx, gw
        gb = None
        if need[2]:
            axes = tuple(range(-x.ndim, -1))
            gb = R.sum(g, axis=axes) if axes else g
        return gx, gw, gb

    @staticmethod
    def jvp(ctx: Context, dx: Any, dw: Any, db: Any = ZERO) -> Any:
        x, w = ctx.saved
        n_out, n_in = w.shape
        out = R.matmul(dx, R.mT(w))
        if dw is not ZERO:
            xw = R.matmul(R.reshape(x, (-1, n_in)), R.mT(dw))
            out = out + R.reshape(xw, xw.shape[:-2] + x.shape[:-1] + (n_out,))
        if db is not ZERO:
            out = out + lift(ctx, db)[0]
        return out


# ----- normalization (batch norm, layer norm) -----
def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def normalize_stats(x: NDArray, axes: tuple[int, ...]) -> tuple[NDArray, NDArray]:
    """Mean and biased variance of x over axes, kept as length-1 axes."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    return mean, (xc * xc).mean(axis=axes, keepdims=True)


class Normalize(Function):
    """y = w (x - m) r + b, r = 1/sqrt(v + eps), with m, v the mean and variance over ``axes``.

    With batch statistics (m, v computed from x): Reverse gx = w r (g - mean(g) - xh mean(g xh)),
    xh = (x - m) r; with fixed statistics (running averages): gx = w r g.
    gw = sum(g xh), gb = sum(g) over the broadcast axes.  Forward: the same, linearised.
    """

    name = "normalize"
    n_in = 3

    @staticmethod
    def forward(ctx: Context, x: NDArray, w: NDArray, b: NDArray, axes: tuple[int, ...],
                pshape: tuple[int, ...], eps: float, mean: NDArray, var: NDArray,
                fixed: bool) -> NDArray:
        r = 1.0 / np.sqrt(var + eps)
        xhat = (x - mean) * r
        ctx.saved = (x, w)
        ctx.xhat, ctx.r = xhat, r
        ctx.axes, ctx.pshape, ctx.eps, ctx.fixed = axes, pshape, eps, fixed
        if fixed:
            ctx.mean = mean
        return xhat * w.reshape(pshape) + b.reshape(pshape)

    @staticmethod
    def _xhat(ctx: Any, x: Any) -> tuple[Any, Any]:
        """x-hat and r: cached for ndarrays, recomputed with recorded ops for Tensors."""
        if not isinstance(x, Tensor):
            return ctx.xhat, ctx.r
        if ctx.fixed:
            return (x - ctx.mean) * ctx.r, ctx.r
        inv_n = 1.0 / _count(x.shape, ctx.axes)
        xc = x - R.sum(x, axis=ctx.axes, keepdims=True) * inv_n
        r = 1.0 / R.sqrt(R.sum(xc * xc, axis=ctx.axes, keepdims=True) * inv_n + ctx.eps)
        return xc * r, r

    @staticmethod
    def _center(ctx: Any, t: Any, xhat: Any, r: Any, n: int) -> Any:
        """r (t - mean(t) - xh mean(t xh)): the derivative of xh along t (or its transpose)."""
        if ctx.fixed:
            return t * r
        inv_n = 1.0 / n
        m1 = R.sum(t, axis=ctx.axes, keepdims=True) * inv_n
        m2 = R.sum(t * xhat, axis=ctx.axes, keepdims=True) * inv_n
        return (t - m1 - xhat * m2) * r

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        x, w = ctx.saved
        nb = ctx.batch
        need = ctx.needs_input_grad
        xhat, r = Normalize._xhat(ctx, x)
        pshape = ctx.pshape
        gx = gw = gb = None
        if need[0]:
            gx = Normalize._center(ctx, g * R.reshape(w, pshape), xhat, r,
                                   _count(x.shape, ctx.axes))
        if need[1]:
            gw = R.reshape(R.sum_to(g * xhat, pshape, nb), g.shape[:nb] + w.shape)
        if need[2]:
            gb = R.reshape(R.sum_to(g, pshape, nb), g.shape[:nb] + w.shape)
        return gx, gw, gb

    @staticmethod
    def jvp(ctx: Context, dx: Any, dw: Any, db: Any) -> Any:
        x, w = ctx.saved
        nb = ctx.batch
        xhat, r = Normalize._xhat(ctx, x)
        pshape = ctx.pshape
        out: Any = ZERO
        if dx is not ZERO:
            out = Normalize._center(ctx, dx, xhat, r, _count(x.shape, ctx.axes)) * R.reshape(
                w, pshape)
        lead = (1,) * (x.ndim - len(pshape))
        if dw is not ZERO:
            out = out + R.reshape(dw, dw.shape[:nb] + lead + pshape) * xhat
        if db is not ZERO:
            out = out + R.reshape(db, db.shape[:nb] + lead + pshape)
        return out


# ----- cross-entropy fused with log-softmax -----
class CrossEntropy(Function):
    """l = -sum_c q_c log softmax(x)_c along ``axis``, per sample, or scale * sum(l) (reduced).

    q holds the targets' coefficients (one-hot or probabilities, smoothing and class weights
    folded in).  Reverse: gx = g (sum(q) p - q), gq = -g log p, p = softmax x.
    Forward: dl = sum((sum(q) p - q) dx) - sum(dq log p).
    """

    name = "cross_entropy"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, x: NDArray, q: NDArray, axis: int, scale: float | None) -> NDArray:
        x, q = promote("cross_entropy", x, q)
        s = x - x.max(axis=axis, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=axis, keepdims=True))
        per = -(q * logp).sum(axis=axis)
        ctx.saved = (x, q)
        ctx.logp, ctx.axis, ctx.scale = logp, axis, scale
        if scale is None:
            return per
        return asarray(per.sum() * scale).astype(x.dtype, copy=False)

    @staticmethod
    def _logp(ctx: Any, x: Any) -> Any:
        if isinstance(x, Tensor):
            return LogSoftmax.apply(x, ctx.axis)
        return ctx.logp

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        x, q = ctx.saved
        nb = ctx.batch
        need = ctx.needs_input_grad
        logp = CrossEntropy._logp(ctx, x)
        if ctx.scale is None:
            ge = R.expand_dims(g, (ctx.axis,))
        else:
            ge = R.reshape(g, g.shape[:nb] + (1,) * x.ndim) * ctx.scale
        gx = gq = None
        if need[0]:
            gx = ge * (R.sum(q, axis=ctx.axis, keepdims=True) * R.exp(logp) - q)
        if need[1]:
            gq = -(ge * logp)
        return gx, gq

    @staticmethod
    def jvp(ctx: Context, dx: Any, dq: Any) -> Any:
        x, q = ctx.saved
        logp = CrossEntropy._logp(ctx, x)
        out: Any = ZERO
        if dx is not ZERO:
            coef = R.sum(q, axis=ctx.axis, keepdims=True) * R.exp(logp) - q
            out = R.sum(coef * dx, axis=ctx.axis)
        if dq is not ZERO:
            out = out - R.sum(dq * logp, axis=ctx.axis)
        if ctx.scale is not None and out is not ZERO:
            axes = tuple(range(-(x.ndim - 1), 0))
            out = (R.sum(out, axis=axes) if axes else out) * ctx.scale
        return out


# ----- public functions -----
def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out_features, in_features)."""
    if bias is None:
        return Linear.apply(_t(x), weight)
    return Linear.apply(_t(x), weight, bias)


def erf(x: Any) -> Tensor:
    """The error function, elementwise."""
    return _apply1(Erf, _t(x))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x) (exact, with erf), or its tanh approximation when approximate='tanh'."""
    if approximate == "none":
        return _apply1(Gelu, _t(x))
    if approximate == "tanh":
        return _apply1(GeluTanh, _t(x))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return LeakyRelu.apply(_t(x), float(negative_slope))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return Elu.apply(_t(x), float(alpha))


def normalize_affine(x: Any, weight: Any, bias: Any, axes: tuple[int, ...],
                     pshape: tuple[int, ...], eps: float, mean: NDArray, var: NDArray,
                     fixed: bool) -> Tensor:
    """weight * (x - mean) / sqrt(var + eps) + bias (see Normalize); axes are negative."""
    return Normalize.apply(_t(x), weight, bias, axes, pshape, eps, mean, var, fixed)


def cross_entropy_q(x: Any, q: Any, axis: int, scale: float | None) -> Tensor:
    """-sum(q * log_softmax(x, axis), axis): per sample (scale None) or scale * its sum."""
    return CrossEntropy.apply(_t(x), q, axis, scale)
