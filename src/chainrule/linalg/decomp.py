"""Factorizations: cholesky, eigh, eigvalsh, svd, qr.

Ops with several outputs return them packed into one array (``_helpers.pack``) and the public
functions slice it, so every rule is written in terms of saved outputs and stays
differentiable to any order. cholesky and eigh read the symmetric part (A + A^T)/2 of their
input (as JAX does), so their gradients are symmetric and finite differences agree with them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from chainrule.autodiff.function import Context, Function
from chainrule.linalg import _helpers as H
from chainrule.linalg.inverse import _float, check_square
from chainrule.ops import rules as R
from chainrule.ops.linalg import _tensors
from chainrule.tensor import Tensor

NDArray = np.ndarray
mm, mT = H.matmul, H.mT


def _sym_np(a: NDArray) -> NDArray:
    a = _float(a)
    return (a + a.swapaxes(-1, -2)) * a.dtype.type(0.5)


def _phi(x: Any) -> Any:
    """The lower triangle of x with its diagonal halved (Murray's Phi)."""
    n = x.shape[-1]
    return x * (H.tri_mask((n, n), 0, True, x) - 0.5 * H.eye(n, x))


class Cholesky(Function):
    """L = chol(sym A), lower.  Forward: dL = L Phi(L^{-1} sym(dA) L^{-T}).
    Reverse (Murray 2016): sym(L^{-T} Phi(L^T G) L^{-1})."""

    name = "cholesky"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        check_square("cholesky", a)
        out = np.linalg.cholesky(_sym_np(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (low,) = ctx.saved
        li = H.inv(low)
        return H.sym(mm(mm(mT(li), _phi(mm(mT(low), g))), li))

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        (low,) = ctx.saved
        li = H.inv(low)
        return mm(low, _phi(mm(mm(li, H.sym(da)), mT(li))))


class Eigh(Function):
    """(w, V) = eigh(sym A), packed.  Forward: with P = V^T sym(dA) V, dw = diag P,
    dV = V (F o P).  Reverse: sym(V (diag(gw) + F o (V^T gV)) V^T), F_ij = 1/(w_j - w_i).

    Degenerate eigenvalues: F is set to 0 where w_i = w_j, so eigenvalue gradients stay exact
    and eigenvector gradients keep only their well-defined (gauge-invariant) part.
    """

    name = "eigh"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        check_square("eigh", a)
        w, v = np.linalg.eigh(_sym_np(a))
        n = a.shape[-1]
        ctx.shapes = [(n,), (n, n)]
        out = H.pack([w, v], ctx.shapes)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        w, v = H.unpack(ctx.saved[0], ctx.shapes)
        gw, gv = H.unpack(g, ctx.shapes)
        inner = H.diag_embed(gw) + H.gap_reciprocal(w) * mm(mT(v), gv)
        return H.sym(mm(mm(v, inner), mT(v)))

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        w, v = H.unpack(ctx.saved[0], ctx.shapes)
        p = mm(mm(mT(v), H.sym(da)), v)
        return H.pack([H.diag_part(p), mm(v, H.gap_reciprocal(w) * p)], ctx.shapes)


class SVD(Function):
    """(U, s, Vh) = svd(A) reduced, packed (k = min(m, n), F_ij = 1/(s_j^2 - s_i^2), S = diag s).

    Forward: dP = U^T dA V, ds = diag dP, dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
    dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1.
    Reverse (Townsend 2016): U [(F o (U^T gU - gU^T U)) S + diag(gs) + S (F o (V^T gV - gV^T V))]
    V^T + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T).

    Degenerate or zero singular values: F and S^-1 are set to 0 there, so singular-value
    gradients stay exact and singular-vector gradients keep only their well-defined part.
    With ``full`` (full_matrices=True on a non-square matrix) the extra singular vectors are not
    unique, and the rules raise.
    """

    name = "svd"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray, full: bool) -> NDArray:
        if a.ndim < 2:
            raise np.linalg.LinAlgError(f"svd: expected (..., m, n), got shape {a.shape}")
        m, n = a.shape[-2:]
        u, s, vh = np.linalg.svd(_float(a), full_matrices=full)
        ctx.full = full and m != n
        ctx.shapes = [u.shape[-2:], s.shape[-1:], vh.shape[-2:]]
        out = H.pack([u, s, vh], ctx.shapes)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def _check(ctx: Context) -> None:
        if ctx.full:
            raise NotImplementedError(
                "svd: no derivative with full_matrices=True for a non-square matrix (the extra "
                "singular vectors are not unique); use full_matrices=False")

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        SVD._check(ctx)
        u, s, vh = H.unpack(ctx.saved[0], ctx.shapes)
        gu, gs, gvh = H.unpack(g, ctx.shapes)
        v, gv = mT(vh), mT(gvh)
        f = H.gap_reciprocal(s, squared=True)
        sinv = H.safe_reciprocal(s)
        m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
        utgu, vtgv = mm(mT(u), gu), mm(mT(v), gv)
        inner = ((f * (utgu - mT(utgu))) * R.expand_dims(s, (-2,)) + H.diag_embed(gs)
                 + R.expand_dims(s, (-1,)) * (f * (vtgv - mT(vtgv))))
        ga = mm(mm(u, inner), vh)
        if m > k:
            ga = ga + mm((gu - mm(u, utgu)) * R.expand_dims(sinv, (-2,)), vh)
        if n > k:
            ga = ga + mm(u, R.expand_dims(sinv, (-1,)) * mT(gv - mm(v, vtgv)))
        return ga

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        SVD._check(ctx)
        u, s, vh = H.unpack(ctx.saved[0], ctx.shapes)
        v = mT(vh)
        f = H.gap_reciprocal(s, squared=True)
        sinv = H.safe_reciprocal(s)
        m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
        dav = mm(da, v)
        dp = mm(mT(u), dav)
        srow, scol = R.expand_dims(s, (-2,)), R.expand_dims(s, (-1,))
        du = mm(u, f * (dp * srow + scol * mT(dp)))
        dv = mm(v, f * (scol * dp + mT(dp) * srow))
        if m > k:
            du = du + (dav - mm(u, dp)) * R.expand_dims(sinv, (-2,))
        if n > k:
            dv = dv + (mm(mT(da), u) - mm(v, mT(dp))) * R.expand_dims(sinv, (-2,))
        return H.pack([du, H.diag_part(dp), mT(dv)], ctx.shapes)


def _qr_square_jvp(q: Any, r: Any, da: Any) -> tuple[Any, Any]:
    """(dQ, dR) of A = QR for m >= n: B = dA R^-1, C = Q^T B, W = tril(C,-1) - its transpose,
    dR = (C - W) R, dQ = B - Q (C - W)."""
    b = H.solve_right(da, r)
    c = mm(mT(q), b)
    low = H.tril(c, -1)
    cw = c - (low - mT(low))
    return b - mm(q, cw), mm(cw, r)


def _qr_square_vjp(q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """gA of A = QR for m >= n: M = gR R^T - Q^T gQ, N = triu(M) + triu(M, 1)^T,
    gA = (gQ + Q N) R^-T."""
    m = mm(gr, mT(r)) - mm(mT(q), gq)
    nmat = H.triu(m) + mT(H.triu(m, 1))
    return H.solve_right(gq + mm(q, nmat), mT(r))


class QR(Function):
    """(Q, R) = qr(A) reduced, packed.  Square or tall (m >= n), with B = dA R^-1, C = Q^T B,
    W = tril(C,-1) - tril(C,-1)^T: dR = (C - W) R, dQ = B - Q (C - W); reverse:
    M = gR R^T - Q^T gQ, gA = (gQ + Q (triu M + triu(M,1)^T)) R^-T.  Wide (m < n): A = [X | Y],
    R = [U | V] with X = QU by the square rule and V = Q^T Y.  R must be invertible.
    With ``full`` (mode='complete' on a tall matrix) Q's extra columns are not unique; the
    rules raise."""

    name = "qr"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray, full: bool) -> NDArray:
        if a.ndim < 2:
            raise np.linalg.LinAlgError(f"qr: expected (..., m, n), got shape {a.shape}")
        q, r = np.linalg.qr(_float(a), mode="complete" if full else "reduced")
        ctx.full = full and a.shape[-2] > a.shape[-1]
        ctx.shapes = [q.shape[-2:], r.shape[-2:]]
        out = H.pack([q, r], ctx.shapes)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def _check(ctx: Context) -> None:
        if ctx.full:
            raise NotImplementedError(
                "qr: no derivative with mode='complete' for a tall matrix (the extra columns "
                "of Q are not unique); use mode='reduced'")

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        QR._check(ctx)
        q, r = H.unpack(ctx.saved[0], ctx.shapes)
        gq, gr = H.unpack(g, ctx.shapes)
        m, n = q.shape[-2], r.shape[-1]
        if m >= n:
            return _qr_square_vjp(q, r, gq, gr)
        gu, gv = gr[..., :m], gr[..., m:]
        y = mm(q, r[..., m:])
        gx = _qr_square_vjp(q, r[..., :m], gq + mm(y, mT(gv)), gu)
        return H.cat([gx, mm(q, gv)], -1)

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        QR._check(ctx)
        q, r = H.unpack(ctx.saved[0], ctx.shapes)
        m, n = q.shape[-2], r.shape[-1]
        if m >= n:
            return H.pack(list(_qr_square_jvp(q, r, da)), ctx.shapes)
        dq, du = _qr_square_jvp(q, r[..., :m], da[..., :m])
        y = mm(q, r[..., m:])
        dv = mm(mT(dq), y) + mm(mT(q), da[..., m:])
        return H.pack([dq, H.cat([du, dv], -1)], ctx.shapes)


# ----- public functions -----
class EighResult(NamedTuple):
    """(eigenvalues, eigenvectors), as NumPy's: a = V diag(w) V^T, w ascending."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """(U, S, Vh), as NumPy's: a = U diag(S) Vh."""

    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    """(Q, R), as NumPy's: a = Q R."""

    Q: Tensor
    R: Tensor


def cholesky(a: Any, upper: bool = False) -> Tensor:
    """Cholesky factor of each symmetric positive-definite matrix, as np.linalg.cholesky
    (lower; upper=True gives L^T); reads (a + a^T)/2."""
    low = Cholesky.apply(*_tensors(a))
    return R.mT(low) if upper else low


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix, as np.linalg.eigh;
    reads (a + a^T)/2, so UPLO makes no difference for a symmetric input."""
    (a,) = _tensors(a)
    check_square("eigh", a._data)  # before reading n: a 0-d input is a LinAlgError, as NumPy
    n = a.shape[-1]
    w, v = H.unpack(Eigh.apply(a), [(n,), (n, n)])
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str = "L") -> Tensor:
    """Eigenvalues (ascending) of each symmetric matrix, as np.linalg.eigvalsh."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """Singular value decomposition, as np.linalg.svd: (U, S, Vh), or S when not compute_uv.

    ``hermitian`` is accepted for NumPy's signature; the general algorithm is used.
    """
    (a,) = _tensors(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    full = full_matrices and compute_uv and m != n
    shapes = [(m, m if full else k), (k,), (n if full else k, n)]
    u, s, vh = H.unpack(SVD.apply(a, full), shapes)
    return SVDResult(u, s, vh) if compute_uv else s


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition, as np.linalg.qr: (Q, R) for 'reduced' and 'complete', R for 'r'."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode {mode!r} is not supported (use 'reduced', 'complete', 'r')")
    (a,) = _tensors(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    full = mode == "complete" and m > n
    q, r = H.unpack(QR.apply(a, full), [(m, m if full else k), (m if full else k, n)])
    return r if mode == "r" else QRResult(q, r)
