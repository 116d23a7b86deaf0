"""cr.scipy.linalg: SciPy's matrix functions HIPS autograd differentiates, in both modes.

``solve_sylvester``, ``sqrtm`` and ``solve_banded`` are ops (values from SciPy, imported on
first call, computed on the host: device arrays make a round trip through host memory). Each
rule is a call of an op, so every order works: with X = sqrtm(A) the rules are Sylvester
solves (X dX + dX X = dA), and solve_banded's are banded solves with the transposed bands plus
gathers along the diagonals (O(n bands) work, as the forward).
``solve_triangular`` is cr.linalg's (one implementation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function
from chainrule.linalg import solve_triangular
from chainrule.ops import rules as R
from chainrule.scipy._util import as_floats, scipy_module
from chainrule.tensor import Tensor

NDArray = np.ndarray


def _per_matrix(fn: Any, *mats: NDArray, out_shape: tuple[int, ...]) -> NDArray:
    """fn (SciPy's) on each matrix of the (broadcast) leading axes, in float64 on the host; the
    result on the first matrix's device."""
    lead = np.broadcast_shapes(*(m.shape[:-2] for m in mats))
    out = np.empty(lead + out_shape, np.float64)
    host = tuple(np.broadcast_to(B.asnumpy(m), lead + m.shape[-2:]).astype(np.float64)
                 for m in mats)
    for i in np.ndindex(*lead):
        out[i] = fn(*(m[i] for m in host))
    return B.move_like(out, mats[0])


def _check(name: str, a: NDArray, square: bool = True) -> None:
    if a.ndim < 2 or (square and a.shape[-1] != a.shape[-2]):
        raise ValueError(f"{name}: expected {'square ' if square else ''}matrices, got shape "
                         f"{a.shape}")


class SolveSylvester(Function):
    """X with A X + X B = Q.  Reverse: Qbar = sylv(A^T, B^T, G), Abar = -Qbar X^T,
    Bbar = -X^T Qbar.  Forward: dX = sylv(A, B, dQ - dA X - X dB)."""

    name = "solve_sylvester"
    n_in = 3

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray, q: NDArray) -> NDArray:
        for m in (a, b):
            _check("solve_sylvester", m)
        _check("solve_sylvester", q, square=False)
        if q.shape[-2:] != (a.shape[-1], b.shape[-1]):
            raise ValueError(f"solve_sylvester: q of shape {q.shape} does not match a "
                             f"{a.shape} and b {b.shape}")
        x = _per_matrix(scipy_module("linalg").solve_sylvester, a, b, q,
                        out_shape=q.shape[-2:]).astype(q.dtype)
        ctx.saved = (a, b, x)
        ctx.q_shape = q.shape
        return x

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        a, b, x = ctx.saved
        nb = ctx.batch
        gq = sylvester(R.mT(a), R.mT(b), g)
        return (R.sum_to(-R.matmul(gq, R.mT(x)), a.shape, nb),
                R.sum_to(-R.matmul(R.mT(x), gq), b.shape, nb), R.sum_to(gq, ctx.q_shape, nb))

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any, dq: Any) -> Any:
        a, b, x = ctx.saved
        rhs = dq - R.matmul(da, x) - R.matmul(x, db)
        return R.ZERO if rhs is R.ZERO else sylvester(a, b, rhs)


def sylvester(a: Any, b: Any, q: Any) -> Any:
    """SolveSylvester on ndarrays (plain, for the rules) or with a Tensor among them (recorded)."""
    if any(isinstance(v, Tensor) for v in (a, b, q)):
        return SolveSylvester.apply(a, b, q)
    return SolveSylvester.forward(Context(), a, b, q)


def _sqrtm_array(a: NDArray) -> NDArray:
    """SciPy's principal square root, which must be real."""
    x = scipy_module("linalg").sqrtm(a)
    if np.iscomplexobj(x):
        if np.abs(x.imag).max() > 1e-10 * max(np.abs(x.real).max(), 1.0):
            raise ValueError("sqrtm: the principal square root is complex (a has negative real "
                             "eigenvalues); chainrule's Tensors are real")
        x = x.real
    return x


class Sqrtm(Function):
    """X = A^(1/2), the principal square root.  Forward: dX = sylv(X, X, dA).  Reverse:
    Abar = sylv(X^T, X^T, G)."""

    name = "sqrtm"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        _check("sqrtm", a)
        x = _per_matrix(_sqrtm_array, a, out_shape=a.shape[-2:]).astype(
            a.dtype if a.dtype.kind == "f" else np.float64)
        ctx.saved = (x,)
        return x

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved
        return sylvester(R.mT(x), R.mT(x), g)

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        (x,) = ctx.saved
        return sylvester(x, x, da)


def solve_sylvester(a: Any, b: Any, q: Any) -> Tensor:
    """X with a X + X b = q, as scipy.linalg.solve_sylvester (batched over leading axes).

    Differentiable in a, b and q: dX = sylv(a, b, dq - da X - X db).
    """
    return SolveSylvester.apply(*as_floats(a, b, q))


def sqrtm(A: Any, disp: bool = True, blocksize: int = 64) -> Tensor:
    """The principal square root of A, as scipy.linalg.sqrtm (real results only; batched).

    Differentiable in A: dX solves X dX + dX X = dA. ``disp`` and ``blocksize`` are accepted
    for SciPy's signature; a complex root raises a ValueError.
    """
    (a,) = as_floats(A)
    return Sqrtm.apply(a)


def _band_index(lo: int, up: int, n: int, shift: int) -> tuple[NDArray, NDArray]:
    """For each band row r and column j: the index j + r - shift (clipped to 0..n-1) and
    whether it is inside the matrix."""
    r, j = np.indices((lo + up + 1, n))
    idx = j + r - shift
    return np.clip(idx, 0, n - 1), (idx >= 0) & (idx < n)


def _mask(inside: NDArray, like: Any) -> NDArray:
    """A host mask as 0/1 in like's dtype, on like's device."""
    v = R.value(like)
    return B.like(inside.astype(v.dtype), v)


def _transpose_bands(ab: Any, lo: int, up: int) -> Any:
    """The bands of A^T, (u, l) of them: abT[r, j] = ab[l + u - r, j + r - l]."""
    n = ab.shape[-1]
    cols, inside = _band_index(lo, up, n, lo)
    rows = (lo + up) - np.arange(lo + up + 1)[:, None]
    return ab[rows, cols] * _mask(inside, ab)


def _banded(ab: Any, b: Any, lo: int, up: int) -> Any:
    """SolveBanded on ndarrays (plain, for the rules) or with a Tensor among them."""
    if b is R.ZERO:
        return R.ZERO
    if isinstance(ab, Tensor) or isinstance(b, Tensor):
        return SolveBanded.apply(ab, b, lo, up)
    return SolveBanded.forward(Context(), ab, b, lo, up)


class SolveBanded(Function):
    """x with A x = b, A given by its bands ab[u + i - j, j] = A[i, j]; b (..., n, k).
    Reverse: bbar = A^-T g (the transposed bands), abar[u + i - j, j] = -sum_k bbar[i] x[j].
    Forward: dx = A^-1 (db - dA x), dA x gathered along the diagonals."""

    name = "solve_banded"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, ab: NDArray, b: NDArray, lo: int, up: int) -> NDArray:
        n, k = b.shape[-2:]
        # the batch as columns
        cols = np.moveaxis(B.asnumpy(b), -2, 0).reshape(n, -1).astype(np.float64)
        x = scipy_module("linalg").solve_banded((lo, up), B.asnumpy(ab).astype(np.float64), cols)
        x = B.move_like(np.moveaxis(x.reshape(n, *b.shape[:-2], k), 0, -2).astype(b.dtype), b)
        ctx.saved = (ab, x)
        ctx.lo, ctx.up = lo, up
        return x

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        ab, x = ctx.saved
        lo, up = ctx.lo, ctx.up
        gb = _banded(_transpose_bands(ab, lo, up), g, up, lo)
        rows, inside = _band_index(lo, up, ab.shape[-1], up)
        # abar[r, j] = -sum_k bbar[j + r - u, k] x[j, k]
        gab = -R.sum(gb[..., rows, :] * x, axis=-1) * _mask(inside, ab)
        return R.sum_to(gab, ab.shape, ctx.batch), gb

    @staticmethod
    def jvp(ctx: Context, dab: Any, db: Any) -> Any:
        ab, x = ctx.saved
        lo, up = ctx.lo, ctx.up
        rhs = db
        if dab is not R.ZERO:
            # (dA x)[i] = sum_r dab[r, i - r + u] x[i - r + u]
            n = ab.shape[-1]
            r, i = np.indices((lo + up + 1, n))
            cols = i - r + up
            inside = _mask((cols >= 0) & (cols < n), ab)
            cols = np.clip(cols, 0, n - 1)
            terms = dab[..., r, cols][..., None] * x[cols, :] * inside[..., None]
            rhs = db - R.sum(terms, axis=-3)
        return _banded(ab, rhs, lo, up)


def solve_banded(l_and_u: tuple[int, int], ab: Any, b: Any, overwrite_ab: bool = False,
                 overwrite_b: bool = False, check_finite: bool = True) -> Tensor:
    """x with A x = b, A banded with l sub- and u super-diagonals stored as SciPy's ab
    (ab[u + i - j, j] = A[i, j]), as scipy.linalg.solve_banded; b is (n,) or (n, k).

    Differentiable in ab and b (entries of ab outside the matrix get 0); the rules are banded
    solves with A^T and gathers along the bands.
    """
    lo, up = (int(v) for v in l_and_u)
    ab, b = as_floats(ab, b)
    if ab.ndim != 2 or ab.shape[0] != lo + up + 1:
        raise ValueError(f"solve_banded: ab must have l + u + 1 = {lo + up + 1} rows, got "
                         f"shape {ab.shape}")
    if b.ndim not in (1, 2) or b.shape[0] != ab.shape[1]:
        raise ValueError(f"solve_banded: b of shape {b.shape} does not match ab {ab.shape}")
    if b.ndim == 1:
        return SolveBanded.apply(ab, b.reshape(-1, 1), lo, up).reshape(-1)
    return SolveBanded.apply(ab, b, lo, up)


__all__ = ["solve_banded", "solve_sylvester", "solve_triangular", "sqrtm"]
