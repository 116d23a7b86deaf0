"""linalg functions composed from other ops (no rules of their own): matrix_power,
solve_triangular, lstsq, and matrix_rank (not differentiable)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.linalg import _helpers as H
from chainrule.linalg.decomp import svd
from chainrule.linalg.inverse import check_square, inv, pinv, solve
from chainrule.ops import rules as R
from chainrule.ops.linalg import _tensors, matmul
from chainrule.tensor import Tensor


def matrix_power(a: Any, n: int) -> Tensor:
    """a multiplied by itself n times (n < 0: of inv(a); n = 0: the identity), as
    np.linalg.matrix_power, by repeated squaring; the derivative follows the products."""
    (a,) = _tensors(a)
    check_square("matrix_power", a._data)
    if not isinstance(n, int | np.integer):
        raise TypeError(f"matrix_power: exponent must be an integer, got {type(n).__name__}")
    if n == 0:  # a * 0 keeps the result on a's graph, with a zero derivative
        return a * 0 + H.eye(a.shape[-1], a)
    base = inv(a) if n < 0 else a
    n = abs(int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True) -> Tensor:
    """x with T x = b (trans: T^T x = b), T the lower or upper triangle of a (unit diagonal
    if asked), as scipy.linalg.solve_triangular, batched over leading axes.

    Only the triangle is read, so the gradient with respect to a is triangular: the solve of
    the masked matrix, whose rules are Solve's.
    """
    a, b = _tensors(a, b)
    check_square("solve_triangular", a._data)
    n = a.shape[-1]
    if unit_diagonal:
        t = a * H.tri_mask((n, n), -1 if lower else 1, lower, a._data) + H.eye(n, a._data)
    else:
        t = a * H.tri_mask((n, n), 0, lower, a._data)
    if trans in (1, "T", "C", 2):
        t = R.mT(t)
    elif trans not in (0, "N"):
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    return solve(t, b)


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Tensor, Tensor, int, Tensor]:
    """Least-squares solution of a x = b, as np.linalg.lstsq: (x, residuals, rank, s).

    x = pinv(a) b with NumPy's cutoff (singular values below rcond * max(s) count as zero;
    rcond defaults to eps * max(m, n)), differentiable where the rank is locally constant.
    """
    a, b = _tensors(a, b)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise np.linalg.LinAlgError(f"lstsq: shapes {a.shape} and {b.shape}: expected a (m, n) "
                                    "and b (m,) or (m, k)")
    m, n = a.shape
    if rcond is None:
        rcond = np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).eps * max(m, n)
    x = matmul(pinv(a, rcond), b)
    s = svd(a, compute_uv=False)
    rank = int(np.linalg.matrix_rank(a._data, tol=rcond * float(s._data.max(initial=0))))
    if rank == n and m > n:
        r = b - matmul(a, x)
        residuals = (r * r).sum(axis=0).reshape(-1)
    else:
        residuals = Tensor._make(B.empty((0,), x.dtype, x._data), False, None)
    return x, residuals, rank, s


def matrix_rank(a: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Tensor:
    """Rank of each matrix by SVD, as np.linalg.matrix_rank (an integer: no gradient)."""
    (a,) = _tensors(a)
    return Tensor._make(B.asarray(np.linalg.matrix_rank(
        a._data, tol=tol, hermitian=hermitian, rtol=rtol)), False, None)
