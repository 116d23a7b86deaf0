"""Convolution with PyTorch's semantics (cross-correlation), as three bilinear ops.

    conv(x, w)              y[n, o, j] = sum_{c, k} xpad[n, G(o) + c, j*s + k*d] w[o, c, k]
    conv_input_grad(g, w)   the adjoint of conv in x: a transposed convolution
    conv_weight_grad(x, g)  the adjoint of conv in w

Each op's derivatives are the other two ops, so derivatives of any order are convolutions.
Every op is an im2col (a strided view of the padded input, copied in cache-sized batch chunks)
and one matrix product per chunk. With unit strides the columns run over whole padded rows
("wide" rows: the positions past the last valid column are computed and cropped), so that the
copy of each kernel offset is one contiguous run. The input gradient is a stride-1 correlation
of the dilated, padded output gradient with the flipped, transposed kernel.
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function, _apply
from chainrule.autodiff.zero import ZERO
from chainrule.ops import rules as R
from chainrule.ops.elementwise import promote
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray

# Bytes of im2col columns built at once: small enough to stay in cache between the copy and
# the matrix product (measured: 1 MiB chunks ran 2-3x faster than one batch-sized copy).
CHUNK_BYTES = 1 << 20

_SCRATCH = threading.local()


# Below this many output positions per product, samples are folded into one product per group.
FOLD_BELOW = 64
# The weight gradient folds samples into one product per block (_weight_grad_folded) from this
# many column rows (C/G times the kernel size) and 16 output channels per group. Measured
# against per-sample products, 1 thread: 0.68-0.86x at C K >= 144 and O >= 16, 1.15-1.97x at
# C K <= 72 (a product with 6 x 25 outputs and a long sum leaves BLAS idle).
FOLD_WGRAD_ROWS, FOLD_WGRAD_CHANNELS = 128, 16


def scratch(slot: str, shape: tuple[int, ...], dtype: Any, like: NDArray) -> NDArray:
    """An uninitialized work array kept between calls (per thread and device), valid until the
    next request for the same slot: fresh large temporaries cost a page fault per 4 KiB touched
    (glibc hands freed large blocks back to the OS), which made convolutions 3x slower."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if type(like) is not np.ndarray:
        slot = f"{slot}@{like.device}"  # one buffer per device
    buf = _SCRATCH.__dict__.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = B.empty(max(nbytes, 64), np.uint8, like)
        _SCRATCH.__dict__[slot] = buf
    return buf[:nbytes].view(dtype).reshape(shape)


@dataclass(frozen=True, slots=True)
class ConvGeometry:
    """Spatial parameters of one convolution (one entry per spatial axis)."""

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_lo: tuple[int, ...]
    pad_hi: tuple[int, ...]
    groups: int
    in_size: tuple[int, ...]
    ksize: tuple[int, ...]
    out_size: tuple[int, ...]

    @property
    def nd(self) -> int:
        return len(self.ksize)


# ----- ndarray kernels -----
def pad_trailing(x: NDArray, lo: tuple[int, ...], hi: tuple[int, ...],
                 value: float = 0.0) -> NDArray:
    """x padded with value on its trailing len(lo) axes, C-contiguous (a copy only if needed).

    The result lives in the "pad" scratch slot: use it before the next pad_trailing.
    """
    if not any(lo) and not any(hi):
        return B.contiguous(x)
    nd = len(lo)
    tail = x.shape[-nd:]
    out = scratch("pad", x.shape[:-nd] + tuple(s + a + b for s, a, b in zip(tail, lo, hi)),
                  x.dtype, x)
    out.fill(value)
    out[(Ellipsis, *(slice(a, a + s) for a, s in zip(lo, tail)))] = x
    return out


def _zero_padded(lead: tuple[int, ...], size: tuple[int, ...], lo: tuple[int, ...],
                 hi: tuple[int, ...], dtype: Any, like: NDArray) -> tuple[NDArray, NDArray]:
    """A zeroed array lead + (size + lo + hi) (a read-only strided view) and the writeable
    region of shape lead + size inside it, in the "pad" scratch slot.

    Along the last axis the right padding of one row is the left padding of the next: rows
    are stored as max(lo, hi) zeros then the values, so wide output rows waste fewer positions.
    """
    p = max(lo[-1], hi[-1])
    rows = tuple(s + a + b for s, a, b in zip(size[:-1], lo[:-1], hi[:-1]))
    body = (*lead, *rows, size[-1] + p)
    count = math.prod(body)
    buf = scratch("pad", (count + p,), dtype, like)  # p spare zeros: the last row's right padding
    buf.fill(0)
    block = buf[:count].reshape(body)
    inner = block[(Ellipsis, *(slice(a, a + s) for a, s in zip(lo[:-1], size[:-1])),
                   slice(p, p + size[-1]))]
    shape = (*lead, *rows, size[-1] + lo[-1] + hi[-1])
    view = B.as_strided(buf[p - lo[-1]:], shape, (*block.strides[:-1], buf.itemsize))
    return view, inner


def _padded_input(x: NDArray, geom: ConvGeometry) -> NDArray:
    """x zero-padded as geom says, as a view _windows can read (a copy only when padded)."""
    if not any(geom.pad_lo) and not any(geom.pad_hi):
        return B.contiguous(x)
    xp, inner = _zero_padded(x.shape[:2], x.shape[2:], geom.pad_lo, geom.pad_hi, x.dtype, x)
    inner[...] = x
    return xp


def _windows(xp: NDArray, groups: int, ksize: tuple[int, ...], dilation: tuple[int, ...],
             stride: tuple[int, ...], out_size: tuple[int, ...]) -> tuple[NDArray, int, bool]:
    """The im2col view of xp (N, C, *Sp), unit stride on its last axis: (N, G, C/G, *K, *Q),
    Q's length, and whether Q is wide.

    With unit strides Q is one axis of "wide" positions q = sum_i j_i * rowstride_i up to the
    last valid output, so each kernel offset reads one contiguous run of xp.
    """
    n, c = xp.shape[:2]
    cg = c // groups
    st = xp.strides
    it = xp.itemsize
    head_shape = (n, groups, cg, *ksize)
    head_strides = (st[0], cg * st[1], st[1], *(d * s for d, s in zip(dilation, st[2:])))
    if all(s == 1 for s in stride):
        q = 1 + sum((o - 1) * (s // it) for o, s in zip(out_size, st[2:]))
        return B.as_strided(xp, (*head_shape, q), (*head_strides, it)), q, True
    strides = tuple(s * t for s, t in zip(stride, st[2:]))
    view = B.as_strided(xp, (*head_shape, *out_size), (*head_strides, *strides))
    return view, math.prod(out_size), False


def _blocks(view: NDArray, wide: bool, out_size: tuple[int, ...]
            ) -> list[tuple[int, int, int, int, NDArray]]:
    """Pieces (s, e, p0, p1, columns view) of about CHUNK_BYTES covering samples s:e and
    flattened output positions p0:p1: several samples at once, or, when one sample's columns
    are larger, blocks of positions (whole output rows when the positions are not wide)."""
    n = view.shape[0]
    nd = len(out_size)
    per_pos = math.prod(view.shape[1:view.ndim - (1 if wide else nd)]) * view.itemsize
    npos = view.shape[-1] if wide else math.prod(out_size)
    if per_pos * npos <= CHUNK_BYTES:
        step = max(1, min(n, CHUNK_BYTES // (per_pos * npos)))
        return [(s, min(n, s + step), 0, npos, view[s:s + step]) for s in range(0, n, step)]
    row = 1 if wide else math.prod(out_size[1:])  # positions that must stay together
    step = max(1, CHUNK_BYTES // (per_pos * row))
    rows = npos // row
    tail = (slice(None),) * (0 if wide else nd - 1)
    return [(s, s + 1, r * row, min(rows, r + step) * row,
             view[(slice(s, s + 1), Ellipsis, slice(r, r + step), *tail)])
            for s in range(n) for r in range(0, rows, step)]


def _crop(out: NDArray, xp: NDArray, out_size: tuple[int, ...]) -> NDArray:
    """The valid positions of wide results out (..., q) computed on xp's grid: (..., *out_size)."""
    it, xit = out.itemsize, xp.itemsize
    view = B.as_strided(out, (*out.shape[:-1], *out_size),
                        (*out.strides[:-1], *(s // xit * it for s in xp.strides[2:])))
    return view.copy()  # out is scratch: the result must be a fresh array


def _correlate(xp: NDArray, w: NDArray, groups: int, stride: tuple[int, ...],
               dilation: tuple[int, ...], out_size: tuple[int, ...]) -> NDArray:
    """sum_{c,k} xp[n, G(o)+c, j*s + k*d] w[o, c, k] for padded xp: (N, O, *out_size)."""
    n = xp.shape[0]
    o, cg = w.shape[:2]
    ksize = w.shape[2:]
    og = o // groups
    ck = cg * math.prod(ksize)
    view, q, wide = _windows(xp, groups, ksize, dilation, stride, out_size)
    w3 = B.contiguous(w).reshape(groups, og, ck)
    crop = wide and q != math.prod(out_size)
    out = (scratch("wide", (n, groups, og, q), xp.dtype, xp) if crop
           else B.empty((n, groups, og, q), xp.dtype, xp))
    blocks = _blocks(view, wide, out_size)
    buf = scratch("cols", (max((b[4].size for b in blocks), default=0),), xp.dtype, xp)
    before_positions = -2 if wide else -1 - len(out_size)
    for s, e, p0, p1, block in blocks:
        m, p = e - s, p1 - p0
        if p >= FOLD_BELOW:  # one product per sample: big enough for BLAS, no reordering
            cols = buf[:block.size].reshape(block.shape)
            np.copyto(cols, block)
            cols = cols.reshape(m, groups, ck, p)
            if p == q:
                np.matmul(w3, cols, out=out[s:e])
            else:
                out[s:e, ..., p0:p1] = np.matmul(w3, cols)
            continue
        # Few positions: one product per group over all the block's samples (small
        # per-sample products leave BLAS idle).
        cols = _folded_columns(block, buf, before_positions)
        res = np.matmul(w3, cols.reshape(groups, ck, m * p)).reshape(groups, og, m, p)
        out[s:e, ..., p0:p1] = np.moveaxis(res, 2, 0)
    out = out.reshape(n, o, q)
    return _crop(out, xp, out_size) if crop else out.reshape(n, o, *out_size)


def conv_forward(x: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
    """conv(x, w) on ndarrays (no bias): (N, O, *out_size)."""
    xp = _padded_input(x, geom)
    return _correlate(xp, w, geom.groups, geom.stride, geom.dilation, geom.out_size)


def _phase(geom: ConvGeometry, i: int, r: int) -> tuple[slice, int, int, int, int, slice] | None:
    """Axis i of the input-gradient phase r (the inputs at i + pad = m s + r): the kernel taps
    that reach it, their dilation in g, the padding of g before and after (negative: crop),
    its size, and the input positions it fills; None if it is empty."""
    s, d, k = geom.stride[i], geom.dilation[i], geom.ksize[i]
    p, size, o = geom.pad_lo[i], geom.in_size[i], geom.out_size[i]
    k0 = next((t for t in range(k) if t * d % s == r), None)
    m0, m1 = -((r - p) // s), (size - 1 + p - r) // s  # ceil((p - r) / s), floor(...)
    if k0 is None or m1 < m0:
        return None
    step, dil = s // math.gcd(s, d), d // math.gcd(s, d)
    taps = len(range(k0, k, step))
    lo = ((k0 + (taps - 1) * step) * d - r) // s - m0
    count = m1 - m0 + 1
    hi = count + (taps - 1) * dil - lo - o
    first = m0 * s + r - p
    return slice(k0, None, step), dil, lo, hi, count, slice(first, first + (count - 1) * s + 1, s)


def conv_input_grad_forward(g: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
    """The adjoint of conv in x, on ndarrays: g (N, O, *out) -> (N, C, *in_size).

    A transposed convolution: gx = sum_k gd[i + k d] wflip[k] with gd = g dilated by the stride
    and padded by (K-1)d - pad, C and O of w swapped per group. With stride s the zeros of gd
    are skipped: each of the s^nd phases of gx (positions i + pad = m s + r) is a stride-1
    correlation of g with the taps k d = r (mod s) of the flipped kernel.
    """
    nd, groups = geom.nd, geom.groups
    o, cg = w.shape[:2]
    full = (g.shape[0], groups * cg, *geom.in_size)
    gx = B.zeros(full, g.dtype, g) if max(geom.stride) > 1 else None
    flip = (Ellipsis, *(slice(None, None, -1),) * nd)
    for phase in itertools.product(*(range(s) for s in geom.stride)):
        axes = [_phase(geom, i, r) for i, r in enumerate(phase)]
        if any(a is None for a in axes):
            continue
        taps, dil, lo, hi, count, dst = zip(*axes)
        src = tuple(slice(max(-a, 0), n - max(-b, 0)) for a, b, n in zip(lo, hi, g.shape[2:]))
        if any(sl.stop <= sl.start for sl in src):
            continue  # no output gradient reaches these inputs
        size = tuple(sl.stop - sl.start for sl in src)
        gp, inner = _zero_padded(g.shape[:2], size, tuple(max(a, 0) for a in lo),
                                 tuple(max(b, 0) for b in hi), g.dtype, g)
        inner[...] = g[(Ellipsis, *src)]
        v = w.reshape(groups, o // groups, cg, *geom.ksize)[(Ellipsis, *taps)][flip]
        v = v.swapaxes(1, 2).reshape(groups * cg, o // groups, *v.shape[3:])
        part = _correlate(gp, v, groups, (1,) * nd, dil, count)
        if gx is None:
            return part  # stride 1: one phase holds every input position
        gx[(Ellipsis, *dst)] = part
    return B.zeros(full, g.dtype, g) if gx is None else gx


def conv_weight_grad_forward(x: NDArray, g: NDArray, geom: ConvGeometry) -> NDArray:
    """The adjoint of conv in w, on ndarrays: x (N, C, *in), g (*B, N, O, *out) -> (*B, O, C/G, *K).

    gw[o, c, k] = sum_{n, j} g[n, o, j] xpad[n, G(o)+c, j*s + k*d]: the columns times g.
    """
    xp = _padded_input(x, geom)
    groups, ksize = geom.groups, geom.ksize
    n, c = xp.shape[:2]
    nd = geom.nd
    lead = g.shape[:-nd - 2]
    o = g.shape[-nd - 1]
    og, cg = o // groups, c // groups
    ck = cg * math.prod(ksize)
    view, q, wide = _windows(xp, groups, ksize, geom.dilation, geom.stride, geom.out_size)
    if wide and q != math.prod(geom.out_size):  # spread g over the wide positions, 0 elsewhere
        gq = scratch("spread", (*lead, n, o, q), g.dtype, g)
        gq.fill(0)
        it, xit = gq.itemsize, xp.itemsize
        spread = B.as_strided(gq, (*lead, n, o, *geom.out_size),
                              (*gq.strides[:-1], *(s // xit * it for s in xp.strides[2:])),
                              writeable=True)
        spread[...] = g
    else:
        gq = B.contiguous(g).reshape(*lead, n, o, q)
    gq = gq.reshape(*lead, n, groups, og, q)
    blocks = _blocks(view, wide, geom.out_size)
    buf = scratch("cols", (max((b[4].size for b in blocks), default=0),), xp.dtype, xp)
    before_positions = -2 if wide else -1 - nd
    if not lead and ck >= FOLD_WGRAD_ROWS and og >= FOLD_WGRAD_CHANNELS:
        return _weight_grad_folded(gq, blocks, buf, before_positions, ck).reshape(
            o, cg, *ksize)
    acc = B.zeros((*lead, groups, og, ck), xp.dtype, xp)
    for s, e, p0, p1, block in blocks:
        if p1 - p0 >= FOLD_BELOW:  # per-sample products, summed: cheap next to their work
            cols = buf[:block.size].reshape(block.shape)
            np.copyto(cols, block)
            cols = cols.reshape(e - s, groups, ck, p1 - p0).swapaxes(-1, -2)
            acc += np.matmul(gq[..., s:e, :, :, p0:p1], cols).sum(axis=-4)
            continue
        # Few positions: samples next to positions in both factors, so one product sums over
        # both (per-sample products would materialise (samples, O, C K) for little work).
        cols = _folded_columns(block, buf, before_positions)
        mp = (e - s) * (p1 - p0)
        gb = np.moveaxis(gq[..., s:e, :, :, p0:p1], -4, -2).reshape(*lead, groups, og, mp)
        acc += np.matmul(gb, cols.reshape(groups, ck, mp).swapaxes(-1, -2))
    return acc.reshape(*lead, o, cg, *ksize)


def _folded_columns(block: NDArray, buf: NDArray, before_positions: int) -> NDArray:
    """A block of the im2col view copied into buf with its samples moved next to its positions
    (at before_positions), so that one product per group sums over both."""
    src = np.moveaxis(block, 0, before_positions)
    cols = buf[:block.size].reshape(src.shape)
    np.copyto(cols, src)
    return cols


def _weight_grad_folded(gq: NDArray, blocks: list, buf: NDArray, before_positions: int,
                        ck: int) -> NDArray:
    """sum over samples and positions of g times the columns, for g (N, G, O/G, Q): (G, O/G, CK).

    Each block's samples are folded next to its positions in both factors, so one product per
    group sums over both; it is taken as columns @ g^T, giving the result transposed. Both
    factors have the summed axis contiguous, and OpenBLAS runs that product 1.5-2x faster with
    the long factor on the left (LeNet's second conv: 0.58 ms against 1.06 ms as g @ columns^T).
    """
    groups, og = gq.shape[1:3]
    acc_t = B.zeros((groups, ck, og), gq.dtype, gq)
    most = max(((e - s) * (p1 - p0) for s, e, p0, p1, _ in blocks), default=0)
    gbuf = scratch("wgrad_g", (groups * og * most,), gq.dtype, gq)
    for s, e, p0, p1, block in blocks:
        mp = (e - s) * (p1 - p0)
        cols = _folded_columns(block, buf, before_positions)
        gb = gbuf[:groups * og * mp].reshape(groups, og, e - s, p1 - p0)
        np.copyto(gb, np.moveaxis(gq[s:e, :, :, p0:p1], 0, -2))
        acc_t += np.matmul(cols.reshape(groups, ck, mp),
                           gb.reshape(groups, og, mp).swapaxes(-1, -2))
    return acc_t.swapaxes(-1, -2).copy()


# ----- the ops -----
class Conv(Function):
    """y = conv(x, w) + b.

    Reverse: (conv_input_grad(g, w), conv_weight_grad(x, g), sum of g over N and space).
    Forward: conv(dx, w) + conv(x, dw) + db (conv is bilinear).
    """

    name = "conv"

    @staticmethod
    def kernel(x: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
        """The op on ndarrays, without bias."""
        return conv_forward(x, w, geom)

    @staticmethod
    def grads(g: Any, x: Any, w: Any, geom: ConvGeometry, nb: int, need: tuple) -> tuple:
        """Cotangents of x and w (None where not needed)."""
        return (input_grad_batched_g(g, w, geom, nb) if need[0] else None,
                weight_grad_batched_g(x, g, geom, nb) if need[1] else None)

    @staticmethod
    def tangent(dx: Any, dw: Any, x: Any, w: Any, geom: ConvGeometry, nb: int) -> Any:
        """The output tangent (the op is bilinear in x and w)."""
        return conv_batched_x(dx, w, geom, nb) + conv_batched_w(x, dw, geom, nb)

    @classmethod
    def forward(cls, ctx: Context, x: NDArray, w: NDArray, *rest: Any) -> NDArray:
        *b, geom = rest  # (geom,) or (bias, geom)
        xc, wc = promote(cls.name, x, w)
        y = cls.kernel(xc, wc, geom)
        if b:
            y, bias = promote(cls.name, y, b[0])
            y += bias.reshape((-1,) + (1,) * geom.nd)
        ctx.saved = (x, w)
        ctx.geom = geom
        return y

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> tuple[Any, ...]:
        x, w = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        need = ctx.needs_input_grad
        gx, gw = cls.grads(g, x, w, geom, nb, need)
        if len(need) == 2:
            return gx, gw
        nd = geom.nd
        gb = R.sum(g, axis=(-nd - 2, *range(-nd, 0))) if need[2] else None
        return gx, gw, gb

    @classmethod
    def jvp(cls, ctx: Context, dx: Any, dw: Any, db: Any = ZERO) -> Any:
        x, w = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        out = cls.tangent(dx, dw, x, w, geom, nb)
        if db is not ZERO:
            out = out + R.reshape(db, db.shape[:nb] + (1, -1) + (1,) * geom.nd)
        return out


class ConvInputGrad(Function):
    """h = conv_input_grad(g, w), the transposed convolution.

    Reverse (cotangent k, shaped like x): (conv(k, w), conv_weight_grad(k, g)).
    Forward: conv_input_grad(dg, w) + conv_input_grad(g, dw).
    """

    name = "conv_input_grad"

    @staticmethod
    def forward(ctx: Context, g: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
        gc, wc = promote("conv_input_grad", g, w)
        ctx.saved = (g, w)
        ctx.geom = geom
        return conv_input_grad_forward(gc, wc, geom)

    @staticmethod
    def vjp(ctx: Context, k: Any) -> tuple[Any, Any]:
        g, w = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        need = ctx.needs_input_grad
        gg = conv_batched_x(k, w, geom, nb) if need[0] else None
        gw = weight_grad_batched_x(k, g, geom, nb) if need[1] else None
        return gg, gw

    @staticmethod
    def jvp(ctx: Context, dg: Any, dw: Any) -> Any:
        g, w = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        return input_grad_batched_g(dg, w, geom, nb) + input_grad_batched_w(g, dw, geom, nb)


class ConvWeightGrad(Function):
    """v = conv_weight_grad(x, g).

    Reverse (cotangent k, shaped like w): (conv_input_grad(g, k), conv(x, k)).
    Forward: conv_weight_grad(dx, g) + conv_weight_grad(x, dg).
    """

    name = "conv_weight_grad"

    @staticmethod
    def forward(ctx: Context, x: NDArray, g: NDArray, geom: ConvGeometry) -> NDArray:
        xc, gc = promote("conv_weight_grad", x, g)
        ctx.saved = (x, g)
        ctx.geom = geom
        return conv_weight_grad_forward(xc, gc, geom)

    @staticmethod
    def vjp(ctx: Context, k: Any) -> tuple[Any, Any]:
        x, g = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        need = ctx.needs_input_grad
        gx = input_grad_batched_w(g, k, geom, nb) if need[0] else None
        gg = conv_batched_w(x, k, geom, nb) if need[1] else None
        return gx, gg

    @staticmethod
    def jvp(ctx: Context, dx: Any, dg: Any) -> Any:
        x, g = ctx.saved
        geom, nb = ctx.geom, ctx.batch
        return weight_grad_batched_x(dx, g, geom, nb) + weight_grad_batched_g(x, dg, geom, nb)


# ----- dispatch: ndarrays run the kernels, Tensors record the ops -----
def _bilinear(cls: Any, kernel: Any, a: Any, b: Any, geom: ConvGeometry) -> Any:
    if a is ZERO or b is ZERO:
        return ZERO
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _apply(cls, (a, b), (geom,))
    a, b = promote(cls.name, a, b)
    return kernel(a, b, geom)


def conv_op(x: Any, w: Any, geom: ConvGeometry) -> Any:
    """conv(x, w) without bias, on ndarrays (plain) or Tensors (recorded)."""
    return _bilinear(Conv, conv_forward, x, w, geom)


def conv_input_grad(g: Any, w: Any, geom: ConvGeometry) -> Any:
    """The transposed convolution of g with w, on ndarrays or Tensors."""
    return _bilinear(ConvInputGrad, conv_input_grad_forward, g, w, geom)


def conv_weight_grad(x: Any, g: Any, geom: ConvGeometry) -> Any:
    """The gradient of conv's weight for input x and output cotangent g, ndarrays or Tensors."""
    return _bilinear(ConvWeightGrad, conv_weight_grad_forward, x, g, geom)


# ----- leading batch axes (tangents, cotangents) on one operand, folded into a primal axis -----
def _into_n(fn: Any, a: Any, nb: int) -> Any:
    """fn applied to a whose nb leading batch axes are folded into its sample axis N."""
    if a is ZERO or not nb:
        return fn(a)
    lead = a.shape[:nb + 1]
    r = fn(R.reshape(a, (-1, *a.shape[nb + 1:])))
    return r if r is ZERO else R.reshape(r, lead + r.shape[1:])


def _perm(n: int, order: tuple[int, ...]) -> tuple[int, ...]:
    return order + tuple(range(len(order), n))


def conv_batched_x(dx: Any, w: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv(dx, w) for dx with nb leading batch axes."""
    return _into_n(lambda a: conv_op(a, w, geom), dx, nb)


def input_grad_batched_g(g: Any, w: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv_input_grad(g, w) for g with nb leading batch axes."""
    return _into_n(lambda a: conv_input_grad(a, w, geom), g, nb)


def conv_batched_w(x: Any, dw: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv(x, dw) for dw (*B, O, C/G, *K): B folded into the output channels of each group."""
    if dw is ZERO or not nb:
        return conv_op(x, dw, geom)
    lead, (o, cg, *ks) = dw.shape[:nb], dw.shape[nb:]
    k, gr = math.prod(lead), geom.groups
    w2 = R.transpose(R.reshape(dw, (k, gr, o // gr, cg, *ks)), _perm(4 + len(ks), (1, 0)))
    y = conv_op(x, R.reshape(w2, (k * o, cg, *ks)), geom)
    n, sp = y.shape[0], y.shape[2:]
    y = R.transpose(R.reshape(y, (n, gr, k, o // gr, *sp)), _perm(4 + len(sp), (2, 0, 1)))
    return R.reshape(y, (*lead, n, o, *sp))


def input_grad_batched_w(g: Any, dw: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv_input_grad(g, dw) for dw (*B, O, C/G, *K): B folded into the input channels."""
    if dw is ZERO or not nb:
        return conv_input_grad(g, dw, geom)
    lead, (o, cg, *ks) = dw.shape[:nb], dw.shape[nb:]
    k, gr = math.prod(lead), geom.groups
    w2 = R.transpose(R.reshape(dw, (k, o, cg, *ks)), _perm(3 + len(ks), (1, 0)))
    y = conv_input_grad(g, R.reshape(w2, (o, k * cg, *ks)), geom)
    n, sp = y.shape[0], y.shape[2:]
    y = R.transpose(R.reshape(y, (n, gr, k, cg, *sp)), _perm(4 + len(sp), (2, 0, 1)))
    return R.reshape(y, (*lead, n, gr * cg, *sp))


def weight_grad_batched_x(dx: Any, g: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv_weight_grad(dx, g) for dx (*B, N, C, *S): B folded into the input channels."""
    if dx is ZERO or not nb:
        return conv_weight_grad(dx, g, geom)
    lead, (n, c, *sp) = dx.shape[:nb], dx.shape[nb:]
    k, gr = math.prod(lead), geom.groups
    cg = c // gr
    x2 = R.transpose(R.reshape(dx, (k, n, gr, cg, *sp)), _perm(4 + len(sp), (1, 2, 0)))
    v = conv_weight_grad(R.reshape(x2, (n, gr * k * cg, *sp)), g, geom)
    o, ks = v.shape[0], v.shape[2:]
    v = R.transpose(R.reshape(v, (o, k, cg, *ks)), _perm(3 + len(ks), (1, 0)))
    return R.reshape(v, (*lead, o, cg, *ks))


def weight_grad_batched_g(x: Any, g: Any, geom: ConvGeometry, nb: int) -> Any:
    """conv_weight_grad(x, g) for g (*B, N, O, *out), keeping B in front."""
    if g is ZERO or not nb:
        return conv_weight_grad(x, g, geom)
    if not isinstance(g, Tensor) and not isinstance(x, Tensor):
        xc, gc = promote("conv_weight_grad", x, g)
        return conv_weight_grad_forward(xc, gc, geom)  # the kernel keeps leading axes of g
    lead, (n, o, *sp) = g.shape[:nb], g.shape[nb:]
    k, gr = math.prod(lead), geom.groups
    og = o // gr
    g2 = R.transpose(R.reshape(g, (k, n, gr, og, *sp)), _perm(4 + len(sp), (1, 2, 0)))
    v = conv_weight_grad(x, R.reshape(g2, (n, gr * k * og, *sp)), geom)
    cg, ks = v.shape[1], v.shape[2:]
    v = R.transpose(R.reshape(v, (gr, k, og, cg, *ks)), _perm(4 + len(ks), (1, 0)))
    return R.reshape(v, (*lead, o, cg, *ks))


# ----- geometry and the public functions -----
def int_tuple(name: str, what: str, v: Any, nd: int) -> tuple[int, ...]:
    """v (an int, or a tuple of nd ints or of one) as a tuple of nd ints; ValueError otherwise."""
    t = (v,) * nd if isinstance(v, int | np.integer) else tuple(v)
    if len(t) == 1:
        t = t * nd
    if len(t) != nd or not all(isinstance(i, int | np.integer) for i in t):
        raise ValueError(f"{name}: {what} must be an int or a tuple of {nd} ints, got {v!r}")
    return tuple(int(i) for i in t)


def conv_geometry(name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                  stride: Any, padding: Any, dilation: Any, groups: int) -> ConvGeometry:
    """Check a convolution's arguments (as PyTorch) and work out its geometry."""
    nd = len(w_shape) - 2
    if len(x_shape) != nd + 2:
        raise ValueError(f"{name}: expected an input of {nd + 2} dimensions (N, C, ...) for "
                         f"weight of shape {w_shape}, got input of shape {x_shape}")
    stride = int_tuple(name, "stride", stride, nd)
    dilation = int_tuple(name, "dilation", dilation, nd)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{name}: stride {stride} and dilation {dilation} must be positive")
    if not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    o, cg, *ks = w_shape
    if o % groups:
        raise ValueError(f"{name}: weight of shape {w_shape} has {o} output channels, not "
                         f"divisible by groups={groups}")
    if x_shape[1] != cg * groups:
        raise ValueError(f"{name}: input of shape {x_shape} has {x_shape[1]} channels, but weight "
                         f"of shape {w_shape} with groups={groups} expects {cg * groups}")
    span = tuple(d * (k - 1) for d, k in zip(dilation, ks))
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            lo = tuple(s // 2 for s in span)
            hi = tuple(s - s // 2 for s in span)  # the odd extra on the right, as PyTorch
        else:
            raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
    else:
        lo = hi = int_tuple(name, "padding", padding, nd)
        if min(lo) < 0:
            raise ValueError(f"{name}: padding {lo} must be non-negative")
    in_size = tuple(x_shape[2:])
    padded = tuple(s + a + b for s, a, b in zip(in_size, lo, hi))
    if any(p < s + 1 for p, s in zip(padded, span)):
        raise ValueError(f"{name}: kernel of size {tuple(ks)} (dilated to "
                         f"{tuple(s + 1 for s in span)}) is larger than the padded input of size "
                         f"{padded} (input of shape {x_shape}, padding {padding})")
    out = tuple((p - s - 1) // st + 1 for p, s, st in zip(padded, span, stride))
    return ConvGeometry(stride, dilation, lo, hi, int(groups), in_size, tuple(ks), out)


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def conv(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
         dilation: Any = 1, groups: int = 1, name: str | None = None) -> Tensor:
    """N-d convolution (cross-correlation) of x (N, C, *S) or (C, *S) with weight (O, C/G, *K).

    padding: an int, one int per axis, 'valid' (none) or 'same' (output as large as the input;
    stride 1 only). Returns (N, O, *out) with out = (S + 2p - d (K - 1) - 1) // s + 1.
    """
    x, weight = _t(x), _t(weight)
    nd = weight.ndim - 2
    name = name or f"conv{nd}d"
    if weight.ndim < 3:
        raise ValueError(f"{name}: weight must have at least 3 dimensions (O, C/G, *K), got "
                         f"shape {weight.shape}")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x.reshape(1, *x.shape)
    geom = conv_geometry(name, x.shape, weight.shape, stride, padding, dilation, groups)
    if bias is None:
        y = _apply(Conv, (x, weight), (geom,))
    else:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"{name}: bias of shape {tuple(bias.shape)} does not match weight "
                             f"of shape {weight.shape} ({weight.shape[0]} output channels)")
        y = _apply(Conv, (x, weight, bias), (geom,))
    return y.reshape(y.shape[1:]) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d convolution of input (N, C, L) or (C, L) with weight (O, C/groups, K), as PyTorch."""
    _check_nd("conv1d", weight, 1)
    return conv(input, weight, bias, stride, padding, dilation, groups, "conv1d")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d convolution of input (N, C, H, W) or (C, H, W) with weight (O, C/groups, kH, kW)."""
    _check_nd("conv2d", weight, 2)
    return conv(input, weight, bias, stride, padding, dilation, groups, "conv2d")


def _check_nd(name: str, weight: Any, nd: int) -> None:
    if len(weight.shape) != nd + 2:
        raise ValueError(f"{name}: weight must have {nd + 2} dimensions (out_channels, "
                         f"in_channels/groups, {nd} kernel sizes), got shape "
                         f"{tuple(weight.shape)}")
