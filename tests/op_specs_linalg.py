"""Rows of the op table for cr.linalg; op_specs.OP_SPECS takes them in.

The samples are well conditioned: matrices built as U diag(s) V^T with spaced singular values
(full rank, distinct spectra), SPD matrices with spaced eigenvalues for cholesky and eigh.
Factorizations whose factors are unique only up to signs (eigh, svd, qr) are compared with
their signs fixed (a piecewise-constant factor, so derivatives are unchanged), and cholesky
and eigh are compared with torch on the symmetric part they read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from op_specs import OpSpec, case

import chainrule as cr

try:
    import torch
except ImportError:  # only the torch tests call the torch column, and they skip without it
    torch = None

Shape = tuple[int, ...]
L = cr.linalg


# ----- domains -----
def _full_rank(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """U diag(s) V^T, U and V random orthonormal, s in [1, 2.2] spaced >= 0.2 apart."""
    *lead, m, n = shape
    k = min(m, n)
    u = np.linalg.qr(rng.standard_normal((*lead, m, k)))[0]
    v = np.linalg.qr(rng.standard_normal((*lead, n, k)))[0]
    s = 1 + 0.4 * np.arange(k)[::-1] + rng.uniform(0, 0.2, (*lead, k))
    return (u * s[..., None, :]) @ v.swapaxes(-1, -2)


def _spd(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """V diag(w) V^T, w in [0.5, 1.7] spaced >= 0.3 apart."""
    *lead, n, _ = shape
    v = np.linalg.qr(rng.standard_normal((*lead, n, n)))[0]
    w = 0.5 + 0.5 * np.arange(n) + rng.uniform(0, 0.2, (*lead, n))
    a = (v * w[..., None, :]) @ v.swapaxes(-1, -2)
    return (a + a.swapaxes(-1, -2)) / 2


def _triangular(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Small off-diagonal entries, diagonal of magnitude 1 to 2: both triangles invertible."""
    n = shape[-1]
    diag = rng.choice([-1.0, 1.0], shape[:-1]) * rng.uniform(1, 2, shape[:-1])
    return 0.3 * rng.standard_normal(shape) + diag[..., None] * np.eye(n)


def _matrices(draw: Any) -> Any:
    """The first operand drawn by ``draw``, any others standard normal."""

    def domain(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
        first = draw(rng, shapes[0])
        rest = [rng.standard_normal(s) for s in shapes[1:]]
        return tuple(np.asarray(a, dtype=dtype) for a in (first, *rest))

    return domain


def distinct_magnitudes(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """|values| over all operands distinct (0.25 apart, 0.25 or more from 0), random signs:
    no ties for the max/min norms."""
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    values = (rng.permutation(n) + 1) * 0.25 * rng.choice([-1.0, 1.0], n)
    parts = np.split(values, np.cumsum(sizes)[:-1])
    return tuple(p.reshape(s).astype(dtype) for p, s in zip(parts, shapes, strict=True))


full_rank = _matrices(_full_rank)
spd = _matrices(_spd)
triangular = _matrices(_triangular)


# ----- the factorizations with their signs fixed, in each library -----
def _np_sym(a: np.ndarray) -> np.ndarray:
    return (a + a.swapaxes(-1, -2)) / 2


def _t_sym(a: Any) -> Any:
    return (a + a.mT) / 2


def cr_eigh(a: Any) -> Any:
    w, v = L.eigh(a)
    return cr.concatenate([cr.expand_dims(w, -2), v * cr.sign(v[..., :1, :])], -2)


def np_eigh(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(_np_sym(a))
    return np.concatenate([w[..., None, :], v * np.sign(v[..., :1, :])], -2)


def torch_eigh(a: Any) -> Any:
    w, v = torch.linalg.eigh(_t_sym(a))
    return torch.cat([w.unsqueeze(-2), v * torch.sign(v[..., :1, :])], -2)


def _flat(*xs: Any) -> list[Any]:
    return [x.reshape((*x.shape[:-2], -1)) for x in xs]


def cr_svd(a: Any) -> Any:
    u, s, vh = L.svd(a, full_matrices=False)
    d = cr.sign(u[..., :1, :])
    return cr.concatenate([*_flat(u * d, vh * cr.swapaxes(d, -1, -2)), s], -1)


def np_svd(a: np.ndarray) -> np.ndarray:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    d = np.sign(u[..., :1, :])
    return np.concatenate([*_flat(u * d, vh * d.swapaxes(-1, -2)), s], -1)


def torch_svd(a: Any) -> Any:
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    d = torch.sign(u[..., :1, :])
    return torch.cat([*_flat(u * d, vh * d.mT), s], -1)


def _qr_fixed(q: Any, r: Any, sign: Any, cat: Any) -> Any:
    k = r.shape[-2]
    d = sign(r[..., np.arange(k), np.arange(k)])
    return cat(_flat(q * d[..., None, :], r * d[..., :, None]), -1)


def cr_qr(a: Any) -> Any:
    return _qr_fixed(*L.qr(a), cr.sign, cr.concatenate)


def np_qr(a: np.ndarray) -> np.ndarray:
    return _qr_fixed(*np.linalg.qr(a), np.sign, np.concatenate)


def torch_qr(a: Any) -> Any:
    return _qr_fixed(*torch.linalg.qr(a), torch.sign, torch.cat)


# ----- the other references -----
def _scipy_solve_triangular(a: np.ndarray, b: np.ndarray, trans: int = 0, lower: bool = False,
                            unit_diagonal: bool = False) -> np.ndarray:
    import scipy.linalg

    if a.ndim == 2:
        return scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower,
                                             unit_diagonal=unit_diagonal)
    return np.stack([_scipy_solve_triangular(ai, bi, trans, lower, unit_diagonal)
                     for ai, bi in zip(a, np.broadcast_to(b, (a.shape[0], *b.shape)))])


def torch_solve_triangular(a: Any, b: Any, trans: int = 0, lower: bool = False,
                           unit_diagonal: bool = False) -> Any:
    k = 1 if unit_diagonal else 0
    t = torch.tril(a, -k) if lower else torch.triu(a, k)
    if unit_diagonal:
        t = t + torch.eye(a.shape[-1], dtype=a.dtype)
    if trans:
        t = t.mT
    x = torch.linalg.solve(t, b.unsqueeze(-1) if b.ndim == 1 else b)
    return x.squeeze(-1) if b.ndim == 1 else x


def torch_lstsq(a: Any, b: Any) -> Any:
    x = torch.linalg.lstsq(a, b.unsqueeze(-1) if b.ndim == 1 else b).solution
    return x.squeeze(-1) if b.ndim == 1 else x


def torch_residuals(a: Any, b: Any) -> Any:
    r = b - a @ torch_lstsq(a, b)
    return (r * r).sum(0).reshape(-1)


def _np_matrix_power(a: np.ndarray, n: int) -> np.ndarray:
    return np.linalg.matrix_power(a, n)


def _torch_norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    return torch.linalg.norm(x, ord, axis, keepdims)


_SQUARE = (case((3, 3)), case((2, 3, 3)), case((1, 1)))
_RECT = (case((3, 3)), case((4, 3)), case((2, 4)), case((2, 3, 2)))

LINALG_SPECS: list[OpSpec] = [
    OpSpec("linalg.inv", L.inv, np.linalg.inv, lambda a: torch.linalg.inv(a), _SQUARE,
           full_rank),
    OpSpec("linalg.det", L.det, np.linalg.det, lambda a: torch.linalg.det(a), _SQUARE, full_rank),
    OpSpec("linalg.slogdet", lambda a: L.slogdet(a)[0] * L.slogdet(a)[1],
           lambda a: np.linalg.slogdet(a)[0] * np.linalg.slogdet(a)[1],
           lambda a: torch.linalg.slogdet(a)[0] * torch.linalg.slogdet(a)[1], _SQUARE, full_rank),
    OpSpec("linalg.solve", L.solve, np.linalg.solve, lambda a, b: torch.linalg.solve(a, b),
           (case((3, 3), (3,)), case((3, 3), (3, 2)), case((2, 3, 3), (3, 2)),
            case((3, 3), (2, 3, 1))), full_rank),
    OpSpec("linalg.cholesky", L.cholesky, lambda a, upper=False: np.linalg.cholesky(a, upper=upper),
           lambda a, upper=False: torch.linalg.cholesky(_t_sym(a), upper=upper),
           (case((3, 3)), case((2, 3, 3)), case((1, 1)), case((3, 3), upper=True)), spd),
    OpSpec("linalg.eigh", cr_eigh, np_eigh, torch_eigh, (case((3, 3)), case((2, 3, 3))), spd),
    OpSpec("linalg.eigvalsh", L.eigvalsh, np.linalg.eigvalsh,
           lambda a: torch.linalg.eigvalsh(_t_sym(a)), (case((3, 3)), case((2, 3, 3))), spd),
    OpSpec("linalg.norm", L.norm, np.linalg.norm, _torch_norm,
           (case((4,)), case((4,), ord=1), case((4,), ord=np.inf), case((4,), ord=-np.inf),
            case((4,), ord=3), case((2, 3), ord=-1.5, axis=1, keepdims=True), case(()),
            case((2, 3, 2)), case((3, 4), ord="fro"), case((3, 4), ord="nuc"),
            case((3, 4), ord=2), case((3, 4), ord=-2), case((3, 4), ord=1),
            case((3, 4), ord=-1), case((3, 4), ord=np.inf), case((3, 4), ord=-np.inf),
            case((2, 3, 4), ord=2, axis=(2, 0), keepdims=True), case((2, 3, 2), axis=(0, 2)),
            case((2, 3, 4), ord=1, axis=(-1, 1))), distinct_magnitudes),
    OpSpec("linalg.matrix_power", L.matrix_power, _np_matrix_power,
           lambda a, n: torch.linalg.matrix_power(a, n),
           (case((3, 3), n=3), case((2, 3, 3), n=-2), case((3, 3), n=1), case((3, 3), n=0)),
           full_rank),
    OpSpec("linalg.svd", cr_svd, np_svd, torch_svd, _RECT, full_rank),
    OpSpec("linalg.svdvals", lambda a: L.svd(a, compute_uv=False),
           lambda a: np.linalg.svd(a, compute_uv=False), lambda a: torch.linalg.svdvals(a),
           _RECT, full_rank, op="linalg.svd"),
    OpSpec("linalg.qr", cr_qr, np_qr, torch_qr, _RECT, full_rank),
    OpSpec("linalg.pinv", L.pinv, np.linalg.pinv, lambda a: torch.linalg.pinv(a), _RECT,
           full_rank),
    OpSpec("linalg.lstsq", lambda a, b: L.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
           torch_lstsq, (case((4, 3), (4,)), case((4, 3), (4, 2)), case((3, 3), (3, 2))),
           full_rank),
    OpSpec("linalg.lstsq_residuals", lambda a, b: L.lstsq(a, b)[1],
           lambda a, b: np.linalg.lstsq(a, b)[1], torch_residuals,
           (case((4, 3), (4,)), case((4, 2), (4, 3))), full_rank, op="linalg.lstsq"),
    OpSpec("linalg.solve_triangular", L.solve_triangular, _scipy_solve_triangular,
           torch_solve_triangular,
           (case((3, 3), (3,), lower=True), case((3, 3), (3, 2)),
            case((2, 3, 3), (3, 2), lower=True, trans=1),
            case((3, 3), (3, 2), lower=True, unit_diagonal=True),
            case((3, 3), (3,), trans=1, unit_diagonal=True)), triangular),
]
