"""Fused recurrences: one op runs a whole sequence of an Elman RNN, an LSTM or a GRU layer.

Each op takes the sequence x (T, B, I), the weights W_ih (G H, I), W_hh (G H, H), the biases
b_ih, b_hh (G H,) and the initial state, with PyTorch's gate orders (LSTM i, f, g, o; GRU r, z, n).
Forward projects every time step with one matrix product x W_ih^T, then runs h W_hh^T step by step
in NumPy, writing into preallocated buffers and keeping the gates for backpropagation through
time. The reverse rule is a hand-written BPTT: per step only the recurrent product and a few
elementwise passes; the weight gradients come from one matrix product over all steps at the end.
The forward rule is the tangent recurrence. With ``reverse=True`` a layer runs from the last
step to the first (the backward direction of a bidirectional layer); outputs stay in time order.

Rules called on Tensors (a differentiable backward: create_graph, hessian) instead re-run the
recurrence with chainrule's differentiable ops (``composite``) and differentiate that, so first
order is fast and fused while any order stays exact.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function
from chainrule.autodiff.zero import ZERO
from chainrule.dtypes import to_float
from chainrule.ops import rules as R
from chainrule.ops.elementwise import promote_all
from chainrule.tensor import Tensor

NDArray = np.ndarray

__all__ = ["GRUScan", "LSTMScan", "RNNScan", "gru_scan", "lstm_scan", "rnn_scan"]


# ----- shared helpers -----
class _Pool(threading.local):
    """Per-thread reusable arrays for the sequence-sized buffers of the rules.

    An array is handed out again only once nothing but the pool refers to it (a view holds its
    base), so reuse never aliases live data.  Fresh multi-megabyte arrays cost page faults on
    every call, since the allocator returns freed large blocks to the OS.  The pool keeps at
    most ``max_bytes``, dropping its oldest shapes first.
    """

    per_key, max_bytes = 4, 1 << 28

    def __init__(self) -> None:
        self.arrays: dict[tuple, list[NDArray]] = {}
        self.nbytes = 0

    def empty(self, shape: tuple[int, ...], dtype: Any, like: Any = None) -> NDArray:
        """An array of shape and dtype on like's device (the host for None or an ndarray)."""
        key = (shape, np.dtype(dtype)) if like is None or type(like) is np.ndarray else (
            shape, np.dtype(dtype), str(like.device))
        held = self.arrays.get(key, ())
        for a in held:
            if sys.getrefcount(a) == 3:  # the list, the loop variable, getrefcount's argument
                return a
        a = B.empty(shape, dtype, like)
        if len(held) < self.per_key and 4 * a.nbytes <= self.max_bytes:
            while self.nbytes + a.nbytes > self.max_bytes:
                old = self.arrays.pop(next(iter(self.arrays)))
                self.nbytes -= sum(x.nbytes for x in old)
            self.arrays.setdefault(key, []).append(a)
            self.nbytes += a.nbytes
        return a


_POOL = _Pool()
_empty = _POOL.empty


def _steps(n: int, reverse: bool) -> range:
    """Time indices in processing order."""
    return range(n - 1, -1, -1) if reverse else range(n)


def _shift(seq: NDArray, first: NDArray, reverse: bool) -> NDArray:
    """Each step's previous state, in time order: seq shifted by one step, ``first`` in front."""
    out = _empty(seq.shape, seq.dtype, seq)
    if reverse:
        out[-1] = first
        out[:-1] = seq[1:]
    else:
        out[0] = first
        out[1:] = seq[:-1]
    return out


def _gate_vector(values: tuple[float, ...], h: int, like: NDArray) -> NDArray:
    """One value per gate block, repeated over the block's h units: shape (len(values) h,), in
    like's dtype and on its device."""
    return B.like(np.repeat(np.asarray(values, dtype=like.dtype), h), like)


def _prepare(name: str, gates: int, x: NDArray, w_ih: NDArray, w_hh: NDArray, b_ih: NDArray,
             b_hh: NDArray, states: tuple[NDArray, ...]) -> list[NDArray]:
    """Check the shapes of a recurrence's inputs (errors name them) and match float dtypes."""
    arrays = promote_all(name, (x, w_ih, w_hh, b_ih, b_hh, *states))
    x, w_ih, w_hh, b_ih, b_hh = arrays[:5]
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{name}: weight_hh of shape {w_hh.shape} is not ({gates} * hidden, "
                         "hidden)")
    gh, hidden = w_hh.shape
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"{name}: input of shape {x.shape} is not a non-empty (seq_len, batch, "
                         "input_size) sequence")
    if w_ih.ndim != 2 or w_ih.shape != (gh, x.shape[2]):
        raise ValueError(f"{name}: input of shape {x.shape} does not match weight_ih of shape "
                         f"{w_ih.shape} (expected ({gh}, {x.shape[2]}))")
    for what, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b.shape != (gh,):
            raise ValueError(f"{name}: {what} of shape {b.shape} does not match weight_hh of "
                             f"shape {w_hh.shape} (expected ({gh},))")
    for s in arrays[5:]:
        if s.shape != (x.shape[1], hidden):
            raise ValueError(f"{name}: initial state of shape {s.shape} does not match input of "
                             f"shape {x.shape} and hidden size {hidden} (expected "
                             f"({x.shape[1]}, {hidden}))")
    if x.dtype.kind != "f":
        arrays = [to_float(a, *arrays) for a in arrays]  # the weights' float dtype
    return arrays


def _project_gates(x: NDArray, w: NDArray, b: NDArray, order: list[int]) -> NDArray:
    """x W^T + b per gate block for every time step, gate-major with the blocks taken in order:
    (G, T, B, H), one product per gate."""
    t, n, i = x.shape
    gates = len(order)
    h = w.shape[0] // gates
    out = np.matmul(x.reshape(t * n, i), _gate_blocks_t(w, order),
                    out=_empty((gates, t * n, h), x.dtype, x))
    out += b.reshape(gates, 1, h)[order]
    return out.reshape(gates, t, n, h)


def _gate_blocks_t(w: NDArray, order: list[int]) -> NDArray:
    """The gate blocks of w (G H, K) in order, each transposed, C-contiguous: (G, K, H).

    A copy made once per call: OpenBLAS multiplies by a transposed (F-ordered) right factor
    1.2-1.5x slower at these shapes ((32, 128) @ (128, 512): 72 against 49 us), and the
    per-step products run T times.
    """
    return B.contiguous(w.reshape(len(order), w.shape[0] // len(order), w.shape[1])[order]
                        .swapaxes(1, 2))


def _sum_gates(prods: NDArray, extra: NDArray | None, out: NDArray) -> NDArray:
    """out = the sum of the per-gate products prods (G, ...) (+ extra): dh from gate-major da."""
    prods.sum(axis=0, out=out)  # p0 + p1, + p2, ... in order: one call
    if extra is not None:
        out += extra
    return out


def _gate_weight_grads(da: NDArray, need: tuple[bool, ...], x: NDArray, w_ih: NDArray,
                       hprev: NDArray, nb: int) -> tuple[Any, Any, Any, Any]:
    """gx, gW_ih, gW_hh, gb from gate-major pre-activation gradients da (G, T, *lead, B, H): one
    product per gate. Weight gradients keep the batch axes and come out C-contiguous in the
    weight's layout, (G H, K)."""
    gates, t = da.shape[:2]
    n, h = da.shape[-2:]
    lead = da.shape[2:2 + nb]
    i = x.shape[2]
    d = np.moveaxis(da, (0, 1), (nb, nb + 1)) if nb else da  # (*lead, G, T, B, H)
    d = d.reshape(*lead, gates, t * n, h)
    gx = gw_ih = gw_hh = gb = None
    if need[0]:
        gx = np.matmul(d, w_ih.reshape(gates, h, i)).sum(axis=-3).reshape(*lead, t, n, i)
    dt = d.swapaxes(-1, -2)
    if need[1]:
        gw_ih = np.matmul(dt, x.reshape(t * n, i)).reshape(*lead, gates * h, i)
    if need[2]:
        gw_hh = np.matmul(dt, hprev.reshape(t * n, hprev.shape[2])).reshape(
            *lead, gates * h, hprev.shape[2])
    if need[3] or need[4]:  # a product with ones: 2-3x faster than d.sum(axis=-2)
        ones = B.like(np.ones(t * n, da.dtype), da)
        gb = np.matmul(ones, d).reshape(*lead, gates * h)
    return gx, gw_ih, gw_hh, gb


def _lead(tangents: tuple[Any, ...], nb: int) -> tuple[int, ...]:
    """The batch axes of the first non-ZERO tangent."""
    for d in tangents:
        if d is not ZERO:
            return tuple(d.shape[:nb])
    return ()


def _input_tangent(x: NDArray, w_ih: NDArray, dx: Any, dw_ih: Any, dbias: Any,
                   hprev: NDArray, dw_hh: Any, lead: tuple[int, ...]) -> NDArray:
    """dx W_ih^T + x dW_ih^T + db + h_prev dW_hh^T for all steps: (*lead, T, B, G H)."""
    t, n, i = x.shape
    gh = w_ih.shape[0]
    out = R.matmul(dx, w_ih.T)
    if dw_ih is not ZERO:
        out = out + R.reshape(R.matmul(x.reshape(t * n, i), R.mT(dw_ih)), (*lead, t, n, gh))
    if dw_hh is not ZERO:
        hp = hprev.reshape(t * n, hprev.shape[2])
        out = out + R.reshape(R.matmul(hp, R.mT(dw_hh)), (*lead, t, n, gh))
    if dbias is not ZERO:
        out = out + R.reshape(dbias, (*lead, 1, 1, gh))
    if out is ZERO:
        return B.zeros((*lead, t, n, gh), x.dtype, x)
    return np.broadcast_to(out, (*lead, t, n, gh))


def _composite_of(cls: Any, ctx: Any, idx: list[int]) -> Any:
    """The unfused recurrence as a function of the inputs at positions idx, the rest fixed."""
    args = ctx.saved

    def f(*chosen: Tensor) -> Tensor:
        full = list(args)
        for k, v in zip(idx, chosen):
            full[k] = v
        return cls.composite(ctx, *full)

    return f


def _composite_vjp(cls: Any, ctx: Any, g: Tensor) -> tuple[Any, ...]:
    """The reverse rule on Tensors: differentiate the unfused recurrence (any order)."""
    from chainrule.autodiff.transforms import vjp

    args = ctx.saved
    idx = [k for k, need in enumerate(ctx.needs_input_grad) if need]
    res: list[Any] = [None] * len(args)
    if idx:
        _, back = vjp(_composite_of(cls, ctx, idx), *(args[k] for k in idx))
        for k, gk in zip(idx, back(g)):
            res[k] = gk
    return tuple(res)


def _composite_jvp(cls: Any, ctx: Any, tangents: tuple[Any, ...]) -> Any:
    """The forward rule on Tensors: push the tangents through the unfused recurrence."""
    from chainrule.autodiff.transforms import jvp

    idx = [k for k, d in enumerate(tangents) if d is not ZERO]
    primals = [ctx.saved[k] for k in idx]
    return jvp(_composite_of(cls, ctx, idx), primals, [tangents[k] for k in idx])[1]


class _Scan(Function):
    """Dispatch of the rules: fused NumPy BPTT / tangent recurrence, or the composite on Tensors."""

    forward_state = ("cache", "y")

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> tuple[Any, ...]:
        if isinstance(g, Tensor):
            return _composite_vjp(cls, ctx, g)
        return cls.bptt(ctx, g)

    @classmethod
    def jvp(cls, ctx: Context, *tangents: Any) -> Any:
        if isinstance(ctx.saved[0], Tensor) or any(isinstance(d, Tensor) for d in tangents):
            return _composite_jvp(cls, ctx, tangents)
        return cls.tangent(ctx, tangents)

    @staticmethod
    def bptt(ctx: Context, g: NDArray) -> tuple[Any, ...]:
        raise NotImplementedError

    @staticmethod
    def tangent(ctx: Context, tangents: tuple[Any, ...]) -> NDArray:
        raise NotImplementedError

    @staticmethod
    def composite(ctx: Any, *args: Tensor) -> Tensor:
        raise NotImplementedError


# ----- Elman RNN -----
class RNNScan(_Scan):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu; out (T, B, H).

    Reverse: a_t = (g_t + a_{t+1} W_hh) * act'(h_t), run backwards; gW_hh = sum a_t^T h_{t-1}.
    Forward: dh_t = act'(h_t) (dx_t W_ih^T + x_t dW_ih^T + db + dh_{t-1} W_hh^T + h_{t-1} dW_hh^T).
    """

    name = "rnn_scan"
    n_in = 6

    @staticmethod
    def forward(ctx: Context, x: NDArray, w_ih: NDArray, w_hh: NDArray, b_ih: NDArray,
                b_hh: NDArray, h0: NDArray, nonlinearity: str, reverse: bool) -> NDArray:
        x, w_ih, w_hh, b_ih, b_hh, h0 = _prepare("rnn", 1, x, w_ih, w_hh, b_ih, b_hh, (h0,))
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        ctx.saved = (x, w_ih, w_hh, b_ih, b_hh, h0)
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        y = _project_gates(x, w_ih, b_ih + b_hh, [0])[0]  # becomes the states, in place
        w_t = _gate_blocks_t(w_hh, [0])[0]
        tmp = np.empty_like(h0)
        h_prev = h0
        relu = nonlinearity == "relu"
        for t in _steps(len(y), reverse):
            h = y[t]
            h += np.matmul(h_prev, w_t, out=tmp)
            if relu:
                np.maximum(h, 0.0, out=h)
            else:
                np.tanh(h, out=h)
            h_prev = h
        ctx.y = y
        return y

    @staticmethod
    def _derivative(ctx: Any) -> NDArray:
        y = ctx.y
        d = _empty(y.shape, y.dtype, y)
        if ctx.nonlinearity == "relu":
            return np.greater(y, 0.0, out=d)
        np.multiply(y, y, out=d)
        return np.subtract(1.0, d, out=d)

    @staticmethod
    def bptt(ctx: Context, g: NDArray) -> tuple[Any, ...]:
        x, w_ih, w_hh, _, _, h0 = ctx.saved
        need = ctx.needs_input_grad
        y = ctx.y
        nb = ctx.batch
        lead = g.shape[:nb]
        d = RNNScan._derivative(ctx)
        da = _empty((len(y), *lead, *h0.shape), y.dtype, y)
        dh = B.empty(lead + h0.shape, y.dtype, y)
        gt = np.moveaxis(g, nb, 0) if nb else g  # time first
        prev = -1
        for t in _steps(len(y), not ctx.reverse):
            if prev < 0:
                np.multiply(gt[t], d[t], out=da[t])
            else:
                np.matmul(da[prev], w_hh, out=dh)
                dh += gt[t]
                np.multiply(dh, d[t], out=da[t])
            prev = t
        gh0 = np.matmul(da[prev], w_hh) if need[5] else None
        hprev = _shift(y, h0, ctx.reverse) if need[2] else y
        gx, gw_ih, gw_hh, gb = _gate_weight_grads(da[None], need, x, w_ih, hprev, nb)
        return gx, gw_ih, gw_hh, gb if need[3] else None, gb if need[4] else None, gh0

    @staticmethod
    def tangent(ctx: Context, tangents: tuple[Any, ...]) -> NDArray:
        x, w_ih, w_hh, _, _, h0 = ctx.saved
        dx, dw_ih, dw_hh, db_ih, db_hh, dh0 = tangents
        y = ctx.y
        lead = _lead(tangents, ctx.batch)
        dpre = _input_tangent(x, w_ih, dx, dw_ih, db_ih + db_hh, _shift(y, h0, ctx.reverse),
                              dw_hh, lead)
        d = RNNScan._derivative(ctx)
        out = B.empty(lead + y.shape, y.dtype, y)
        dh = dh0
        for t in _steps(len(y), ctx.reverse):
            pre = dpre[..., t, :, :] if dh is ZERO else dpre[..., t, :, :] + dh @ w_hh.T
            dh = np.multiply(pre, d[t], out=out[..., t, :, :])
        return out

    @staticmethod
    def composite(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                  h0: Tensor) -> Tensor:
        from chainrule import ops

        act = ops.relu if ctx.nonlinearity == "relu" else ops.tanh
        xp = x @ w_ih.T + (b_ih + b_hh)
        h, hs = h0, [None] * x.shape[0]
        for t in _steps(x.shape[0], ctx.reverse):
            h = hs[t] = act(xp[t] + h @ w_hh.T)
        return ops.stack(hs)


# ----- LSTM -----
# Gates i, f, g, o (the weights' blocks). The forward keeps them gate-major in the order i, f, o, g
# (_LSTM_ORDER: block k holds gate _LSTM_ORDER[k], both ways), so the three sigmoid gates are one
# run of blocks: one tanh over all four, then sigmoid(z) = 0.5 tanh(z / 2) + 0.5 on the first
# three, with the factor 1/2 folded into their weights (_LSTM_SCALE, in the weights' order).
_LSTM_ORDER = [0, 1, 3, 2]
_LSTM_SCALE = (0.5, 0.5, 1.0, 0.5)


class LSTMScan(_Scan):
    """LSTM layer: c_t = f c_{t-1} + i g, h_t = o tanh(c_t); out (T + 1, B, H): h_0..h_{T-1}, c.

    Gates (i, f, g, o) = (sig, sig, tanh, sig)(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); the
    last row of the output is the final cell state.  Reverse: dc_t = dc_{t+1} f_{t+1} +
    dh_t o (1 - tanh^2 c_t), gates' gradients from dh_t and dc_t, dh_{t-1} = da_t W_hh.
    Forward: the same recurrence linearised (dc, dh carried along with the states).
    """

    name = "lstm_scan"
    n_in = 7

    @staticmethod
    def forward(ctx: Context, x: NDArray, w_ih: NDArray, w_hh: NDArray, b_ih: NDArray,
                b_hh: NDArray, h0: NDArray, c0: NDArray, reverse: bool) -> NDArray:
        x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _prepare("lstm", 4, x, w_ih, w_hh, b_ih, b_hh,
                                                     (h0, c0))
        ctx.saved = (x, w_ih, w_hh, b_ih, b_hh, h0, c0)
        ctx.reverse = reverse
        n_t, hid = x.shape[0], w_hh.shape[1]
        s = _gate_vector(_LSTM_SCALE, hid, x)
        # The gates live gate-major, (4, T, B, H): a step's four blocks are each contiguous, so
        # its elementwise work runs on whole blocks, and h W_hh^T is four (H, H) products, which
        # OpenBLAS runs faster than one (H, 4H) product (38 us against 49 at B=32, H=128).
        a = _project_gates(x, w_ih * s[:, None], (b_ih + b_hh) * s, _LSTM_ORDER)  # in place
        w4 = _gate_blocks_t(w_hh * s[:, None], _LSTM_ORDER)
        y = _empty((n_t + 1, *h0.shape), x.dtype, x)
        c = _empty((n_t, *h0.shape), x.dtype, x)
        tc = _empty(c.shape, x.dtype, x)
        tmp = B.empty(a.shape[:1] + a.shape[2:], x.dtype, x)
        ig = np.empty_like(h0)
        h, cp = h0, c0
        for t in _steps(n_t, reverse):
            at = a[:, t]  # i, f, o, g
            at += np.matmul(h, w4, out=tmp)
            np.tanh(at, out=at)
            sg = at[:3]
            sg *= 0.5
            sg += 0.5
            ct = np.multiply(at[1], cp, out=c[t])
            ct += np.multiply(at[0], at[3], out=ig)
            np.tanh(ct, out=tc[t])
            h = np.multiply(at[2], tc[t], out=y[t])
            cp = ct
        y[n_t] = cp
        ctx.cache = (a, c, tc)
        ctx.y = y
        return y

    @staticmethod
    def _slopes(a: NDArray) -> NDArray:
        """d gate / d pre-activation for every gate, gate-major in the weights' order i, f, g, o
        (a is in the order i, f, o, g): s (1 - s) for the sigmoid gates, 1 - g^2 for g."""
        d = _empty(a.shape, a.dtype, a)
        for k in range(3):
            s = np.subtract(1.0, a[k], out=d[_LSTM_ORDER[k]])
            s *= a[k]
        s = np.multiply(a[3], a[3], out=d[2])
        np.subtract(1.0, s, out=s)
        return d

    @staticmethod
    def bptt(ctx: Context, g: NDArray) -> tuple[Any, ...]:
        x, w_ih, w_hh, _, _, h0, c0 = ctx.saved
        need = ctx.needs_input_grad
        a, c, tc = ctx.cache  # a: the gates, gate-major (4, T, B, H), in the order i, f, o, g
        y = ctx.y
        n_t, n_b, hid = c.shape
        nb = ctx.batch
        lead = g.shape[:nb]
        one = (1,) * nb
        # p: what the gradient of each gate's pre-activation is along dc (i, f, g) or dh (o),
        # in the weights' order
        p = LSTMScan._slopes(a)
        p[0] *= a[3]
        p[1] *= _shift(c, c0, ctx.reverse)
        p[2] *= a[0]
        p[3] *= tc
        p = p.reshape(4, n_t, *one, n_b, hid)
        # dc_t / dh_t = o (1 - tanh^2 c_t)
        q = np.multiply(tc, tc, out=_empty(tc.shape, tc.dtype, tc))
        np.subtract(1.0, q, out=q)
        q *= a[2]
        f = a[1]
        # da: the pre-activations' gradients, gate-major in the weights' order (i, f, g, o):
        # dh_{t-1} is four (H, H) products summed, as the forward's h W_hh^T
        da = _empty((4, n_t, *lead, n_b, hid), a.dtype, a)
        w4 = w_hh.reshape(4, *one, hid, hid)
        prods = B.empty((4, *lead, n_b, hid), a.dtype, a)
        dh = B.empty((*lead, n_b, hid), a.dtype, a)
        gt = np.moveaxis(g, nb, 0) if nb else g  # time first
        dc = gt[n_t].copy()
        tmp = np.empty_like(dc)
        prev = -1
        for t in _steps(n_t, not ctx.reverse):
            if prev < 0:
                np.copyto(dh, gt[t])
            else:
                _sum_gates(np.matmul(da[:, prev], w4, out=prods), gt[t], dh)
                dc *= f[prev]
            dc += np.multiply(dh, q[t], out=tmp)
            np.multiply(dc, p[:3, t], out=da[:3, t])
            np.multiply(dh, p[3, t], out=da[3, t])
            prev = t
        gh0 = _sum_gates(np.matmul(da[:, prev], w4, out=prods), None, np.empty_like(dh)) if (
            need[5]) else None
        gc0 = np.multiply(dc, f[prev], out=dc) if need[6] else None
        hprev = _shift(y[:n_t], h0, ctx.reverse) if need[2] else y
        gx, gw_ih, gw_hh, gb = _gate_weight_grads(da, need, x, w_ih, hprev, nb)
        return gx, gw_ih, gw_hh, gb if need[3] else None, gb if need[4] else None, gh0, gc0

    @staticmethod
    def tangent(ctx: Context, tangents: tuple[Any, ...]) -> NDArray:
        x, w_ih, w_hh, _, _, h0, c0 = ctx.saved
        dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0 = tangents
        a, c, tc = ctx.cache
        y = ctx.y
        n_t, hid = c.shape[0], c.shape[2]
        lead = _lead(tangents, ctx.batch)
        dpre = _input_tangent(x, w_ih, dx, dw_ih, db_ih + db_hh, _shift(y[:n_t], h0, ctx.reverse),
                              dw_hh, lead)
        # (T, B, 4, H) in the weights' order i, f, g, o
        a4 = a[_LSTM_ORDER].transpose(1, 2, 0, 3)
        slopes = LSTMScan._slopes(a).transpose(1, 2, 0, 3)
        cprev = _shift(c, c0, ctx.reverse)
        out = B.empty(lead + y.shape, y.dtype, y)
        dh, dc = dh0, dc0
        for t in _steps(n_t, ctx.reverse):
            pre = dpre[..., t, :, :] if dh is ZERO else dpre[..., t, :, :] + dh @ w_hh.T
            d4 = pre.reshape(*pre.shape[:-1], 4, hid) * slopes[t]
            i, f, gg, o = (a4[t, :, k] for k in range(4))
            dc = d4[..., 1, :] * cprev[t] + d4[..., 0, :] * gg + i * d4[..., 2, :] + f * dc
            dh = d4[..., 3, :] * tc[t] + o * (1.0 - tc[t] * tc[t]) * dc
            out[..., t, :, :] = dh
        out[..., n_t, :, :] = dc
        return out

    @staticmethod
    def composite(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                  h0: Tensor, c0: Tensor) -> Tensor:
        from chainrule import ops

        hid = w_hh.shape[1]
        xp = x @ w_ih.T + (b_ih + b_hh)
        h, c, hs = h0, c0, [None] * x.shape[0]
        for t in _steps(x.shape[0], ctx.reverse):
            z = xp[t] + h @ w_hh.T
            i, f = ops.sigmoid(z[:, :hid]), ops.sigmoid(z[:, hid:2 * hid])
            gg, o = ops.tanh(z[:, 2 * hid:3 * hid]), ops.sigmoid(z[:, 3 * hid:])
            c = f * c + i * gg
            h = hs[t] = o * ops.tanh(c)
        return ops.stack([*hs, c])


# ----- GRU -----
class GRUScan(_Scan):
    """GRU layer: r, z = sig(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z}),
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h_t = (1 - z) n + z h_{t-1}; out (T, B, H).

    Reverse: with dh_t the total gradient of h_t, the pre-activation gradients of the input
    side (r, z, n) and of the recurrent side (r, z, r * n) are dh_t times factors computed once
    from the saved gates; dh_{t-1} = dh_t z + (recurrent side) W_hh.  Forward: linearised.
    """

    name = "gru_scan"
    n_in = 6

    @staticmethod
    def forward(ctx: Context, x: NDArray, w_ih: NDArray, w_hh: NDArray, b_ih: NDArray,
                b_hh: NDArray, h0: NDArray, reverse: bool) -> NDArray:
        x, w_ih, w_hh, b_ih, b_hh, h0 = _prepare("gru", 3, x, w_ih, w_hh, b_ih, b_hh, (h0,))
        ctx.saved = (x, w_ih, w_hh, b_ih, b_hh, h0)
        ctx.reverse = reverse
        n_t, hid = x.shape[0], w_hh.shape[1]
        # gate-major (3, T, B, H) as the LSTM's: r and z are one run of blocks, sigmoid(z) =
        # tanh(z / 2) / 2 + 1/2 with the 1/2 folded into their weights
        s = _gate_vector((0.5, 0.5, 1.0), hid, x)
        brz = b_ih + np.concatenate([b_hh[:2 * hid], B.zeros(hid, x.dtype, x)])
        a = _project_gates(x, w_ih * s[:, None], brz * s, [0, 1, 2])  # the gates, in place
        w3 = _gate_blocks_t(w_hh * s[:, None], [0, 1, 2])
        b_hn = b_hh[2 * hid:]
        y = _empty((n_t, *h0.shape), x.dtype, x)
        hn = _empty(y.shape, x.dtype, x)  # h W_hn^T + b_hn, kept for the reverse rule
        tmp = B.empty(a.shape[:1] + a.shape[2:], x.dtype, x)
        diff = np.empty_like(h0)
        h = h0
        for t in _steps(n_t, reverse):
            at = a[:, t]  # r, z, n
            np.matmul(h, w3, out=tmp)
            rz = at[:2]
            rz += tmp[:2]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            np.add(tmp[2], b_hn, out=hn[t])
            n = at[2]
            n += np.multiply(at[0], hn[t], out=diff)
            np.tanh(n, out=n)
            np.subtract(h, n, out=diff)
            diff *= at[1]
            h = np.add(n, diff, out=y[t])
        ctx.cache = (a, hn)
        ctx.y = y
        return y

    @staticmethod
    def _factors(ctx: Any, hprev: NDArray) -> tuple[NDArray, NDArray]:
        """px, ph (3, T, B, H), gate-major as the gates: pre-activation gradients of the input /
        recurrent side per dh."""
        a, hn = ctx.cache
        r, z, n = a[0], a[1], a[2]
        px = _empty(a.shape, a.dtype, a)
        pn = np.multiply(n, n, out=px[2])  # (1 - z)(1 - n^2)
        np.subtract(1.0, pn, out=pn)
        pn *= 1.0 - z
        pz = np.subtract(hprev, n, out=px[1])  # (h_{t-1} - n) z (1 - z)
        pz *= z
        pz *= 1.0 - z
        pr = np.multiply(pn, hn, out=px[0])  # (1 - z)(1 - n^2) hn r (1 - r)
        pr *= r
        pr *= 1.0 - r
        ph = _empty(a.shape, a.dtype, a)
        np.copyto(ph, px)
        ph[2] *= r
        return px, ph

    @staticmethod
    def bptt(ctx: Context, g: NDArray) -> tuple[Any, ...]:
        x, w_ih, w_hh, _, _, h0 = ctx.saved
        need = ctx.needs_input_grad
        y = ctx.y
        n_t, n_b, hid = y.shape
        nb = ctx.batch
        lead = g.shape[:nb]
        hprev = _shift(y, h0, ctx.reverse)
        one = (1,) * nb
        px, ph = (f.reshape(3, n_t, *one, n_b, hid) for f in GRUScan._factors(ctx, hprev))
        z = ctx.cache[0][1]
        # dx, dhh: the pre-activations' gradients of the input and recurrent sides, gate-major;
        # dh_{t-1} takes dhh through three (H, H) products summed
        dx = _empty((3, n_t, *lead, n_b, hid), y.dtype, y)
        dhh = _empty(dx.shape, y.dtype, y)
        w3 = w_hh.reshape(3, *(1,) * nb, hid, hid)
        prods = B.empty((3, *lead, n_b, hid), y.dtype, y)
        dh = B.empty(lead + h0.shape, y.dtype, y)
        tmp = np.empty_like(dh)
        gt = np.moveaxis(g, nb, 0) if nb else g  # time first
        prev = -1
        for t in _steps(n_t, not ctx.reverse):
            if prev < 0:
                np.copyto(dh, gt[t])
            else:
                dh *= z[prev]
                dh += _sum_gates(np.matmul(dhh[:, prev], w3, out=prods), gt[t], tmp)
            np.multiply(dh, px[:, t], out=dx[:, t])
            np.multiply(dh, ph[:, t], out=dhh[:, t])
            prev = t
        gh0 = None
        if need[5]:
            gh0 = np.multiply(dh, z[prev], out=dh)
            gh0 += _sum_gates(np.matmul(dhh[:, prev], w3, out=prods), None, tmp)
        gx, gw_ih, _, gb_ih = _gate_weight_grads(
            dx, (need[0], need[1], False, need[3], False), x, w_ih, hprev, nb)
        _, _, gw_hh, gb_hh = _gate_weight_grads(
            dhh, (False, False, need[2], False, need[4]), x, w_ih, hprev, nb)
        return gx, gw_ih, gw_hh, gb_ih, gb_hh, gh0

    @staticmethod
    def tangent(ctx: Context, tangents: tuple[Any, ...]) -> NDArray:
        x, w_ih, w_hh, _, _, h0 = ctx.saved
        dx, dw_ih, dw_hh, db_ih, db_hh, dh0 = tangents
        a, hn = ctx.cache
        y = ctx.y
        n_t, hid = y.shape[0], y.shape[2]
        lead = _lead(tangents, ctx.batch)
        hprev = _shift(y, h0, ctx.reverse)
        # input side: dx W_ih^T + x dW_ih^T + db_ih; recurrent side: h dW_hh^T + db_hh (+ dh W_hh^T)
        dxp = _input_tangent(x, w_ih, dx, dw_ih, db_ih, hprev, ZERO, lead)
        dhp = _input_tangent(hprev, w_hh, ZERO, dw_hh, db_hh, hprev, ZERO, lead)
        a4 = a.transpose(1, 2, 0, 3)  # (T, B, 3, H), a view of the gate-major array
        out = B.empty(lead + y.shape, y.dtype, y)
        dh = dh0
        for t in _steps(n_t, ctx.reverse):
            r, z, n = a4[t, :, 0], a4[t, :, 1], a4[t, :, 2]
            rec = dhp[..., t, :, :] if dh is ZERO else dhp[..., t, :, :] + dh @ w_hh.T
            inp = dxp[..., t, :, :]
            dr = (inp[..., :hid] + rec[..., :hid]) * r * (1.0 - r)
            dz = (inp[..., hid:2 * hid] + rec[..., hid:2 * hid]) * z * (1.0 - z)
            dn = (inp[..., 2 * hid:] + dr * hn[t] + r * rec[..., 2 * hid:]) * (1.0 - n * n)
            dh = (1.0 - z) * dn + dz * (hprev[t] - n) + z * dh
            out[..., t, :, :] = dh
        return out

    @staticmethod
    def composite(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                  h0: Tensor) -> Tensor:
        from chainrule import ops

        hid = w_hh.shape[1]
        xp = x @ w_ih.T + b_ih
        h, hs = h0, [None] * x.shape[0]
        for t in _steps(x.shape[0], ctx.reverse):
            hp = h @ w_hh.T + b_hh
            r = ops.sigmoid(xp[t][:, :hid] + hp[:, :hid])
            z = ops.sigmoid(xp[t][:, hid:2 * hid] + hp[:, hid:2 * hid])
            n = ops.tanh(xp[t][:, 2 * hid:] + r * hp[:, 2 * hid:])
            h = hs[t] = (1.0 - z) * n + z * h
        return ops.stack(hs)


# ----- public functions -----
def _t(x: Any) -> Any:
    return x if isinstance(x, Tensor) else B.asarray(x)


def _zeros_like_bias(w_hh: Any) -> NDArray:
    w = w_hh._data if isinstance(w_hh, Tensor) else B.asarray(w_hh)
    return B.zeros(w.shape[0], w.dtype, w)


def rnn_scan(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
             nonlinearity: str = "tanh", reverse: bool = False) -> Tensor:
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) for t = 0..T-1: (T, B, H)."""
    b_ih = _zeros_like_bias(w_hh) if b_ih is None else b_ih
    b_hh = _zeros_like_bias(w_hh) if b_hh is None else b_hh
    return RNNScan.apply(_t(x), w_ih, w_hh, b_ih, b_hh, _t(h0), nonlinearity, bool(reverse))


def lstm_scan(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
              b_hh: Any = None, reverse: bool = False) -> Tensor:
    """An LSTM layer over x (T, B, I): (T + 1, B, H), the states h_t then the final cell state."""
    b_ih = _zeros_like_bias(w_hh) if b_ih is None else b_ih
    b_hh = _zeros_like_bias(w_hh) if b_hh is None else b_hh
    return LSTMScan.apply(_t(x), w_ih, w_hh, b_ih, b_hh, _t(h0), _t(c0), bool(reverse))


def gru_scan(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
             reverse: bool = False) -> Tensor:
    """A GRU layer over x (T, B, I): the states h_t, (T, B, H)."""
    b_ih = _zeros_like_bias(w_hh) if b_ih is None else b_ih
    b_hh = _zeros_like_bias(w_hh) if b_hh is None else b_hh
    return GRUScan.apply(_t(x), w_ih, w_hh, b_ih, b_hh, _t(h0), bool(reverse))
