"""Inverses and determinants: inv, det, slogdet, solve, pinv (Giles, "Collected matrix
derivative results", sections 2.2 and 3.1-3.3; Golub and Pereyra for the pseudo-inverse)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function
from chainrule.dtypes import to_float
from chainrule.linalg import _helpers as H
from chainrule.ops import rules as R
from chainrule.ops.elementwise import lift, promote
from chainrule.ops.linalg import _tensors
from chainrule.tensor import Tensor

NDArray = np.ndarray


def check_square(name: str, a: NDArray) -> None:
    """Raise LinAlgError (as NumPy) unless a is a stack of square matrices."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise np.linalg.LinAlgError(
            f"{name}: expected a stack of square matrices (..., n, n), got shape {a.shape}")


def _float(a: NDArray) -> NDArray:
    return to_float(a)  # integers and bools: the default float (chainrule.dtypes)


class Inv(Function):
    """X = A^{-1}.  Reverse: -X^T G X^T.  Forward: -X dA X."""

    name = "inv"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        check_square("inv", a)
        out = np.linalg.inv(_float(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved
        xt = H.mT(x)
        return -H.matmul(H.matmul(xt, g), xt)

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        (x,) = ctx.saved
        return -H.matmul(H.matmul(x, da), x)


class Det(Function):
    """d = det A.  Reverse: g d A^{-T}.  Forward: d tr(A^{-1} dA)."""

    name = "det"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        check_square("det", a)
        out = B.asarray(np.linalg.det(_float(a)))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        a, d = ctx.saved
        return R.expand_dims(g * d, (-2, -1)) * H.mT(H.inv(a))

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        a, d = ctx.saved
        return d * R.sum(H.mT(H.inv(a)) * da, axis=(-2, -1))


class LogAbsDet(Function):
    """l = log|det A|.  Reverse: g A^{-T}.  Forward: tr(A^{-1} dA)."""

    name = "slogdet"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray) -> NDArray:
        check_square("slogdet", a)
        ctx.save_for_backward(a)
        return B.asarray(np.linalg.slogdet(_float(a))[1])

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (a,) = ctx.saved
        return R.expand_dims(g, (-2, -1)) * H.mT(H.inv(a))

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        (a,) = ctx.saved
        return R.sum(H.mT(H.inv(a)) * da, axis=(-2, -1))


class Solve(Function):
    """X = A^{-1} B (B a stack of matrices).  Reverse: gB = A^{-T} G, gA = -gB X^T.
    Forward: A^{-1} (dB - dA X)."""

    name = "solve"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        a, b = promote("solve", _float(a), b)
        check_square("solve", a)
        if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
            raise ValueError(f"solve: shapes {a.shape} and {b.shape}: b must be (..., "
                             f"{a.shape[-1]}, k) or ({a.shape[-1]},)")
        try:
            out = np.linalg.solve(a, b)
        except ValueError:
            raise ValueError(f"solve: shapes {a.shape} and {b.shape}: batch dimensions "
                             "cannot be broadcast") from None
        ctx.save_for_backward(a, out)
        ctx.shapes = (a.shape, b.shape)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, x = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        nb = ctx.batch
        gb = H.solve(H.mT(a), g)
        ga = R.sum_to(-H.matmul(gb, H.mT(x)), ctx.shapes[0], nb) if need_a else None
        return ga, R.sum_to(gb, ctx.shapes[1], nb) if need_b else None

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        a, x = ctx.saved
        da, db = lift(ctx, da, db)
        return H.solve(a, db - H.matmul(da, x))


class Pinv(Function):
    """P = A^+.  Forward: -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub-Pereyra,
    valid where the rank is locally constant).  Reverse: its adjoint,
    -P^T G P^T + (G^T - A P G^T) P P^T + P^T P (G^T - G^T P A)."""

    name = "pinv"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, a: NDArray, rcond: Any, hermitian: bool) -> NDArray:
        if a.ndim < 2:
            raise np.linalg.LinAlgError(f"pinv: expected (..., m, n), got shape {a.shape}")
        kw = {} if rcond is None else {"rcond": rcond}
        out = np.linalg.pinv(_float(a), hermitian=hermitian, **kw)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        a, p = ctx.saved
        mm, t = H.matmul, H.mT
        gt = t(g)
        return (-mm(mm(t(p), g), t(p)) + mm(gt - mm(a, mm(p, gt)), mm(p, t(p)))
                + mm(mm(t(p), p), gt - mm(mm(gt, p), a)))

    @staticmethod
    def jvp(ctx: Context, da: Any) -> Any:
        a, p = ctx.saved
        mm, t = H.matmul, H.mT
        dat = t(da)
        return (-mm(mm(p, da), p) + mm(mm(p, t(p)), dat - mm(dat, mm(a, p)))
                + mm(dat - mm(p, mm(a, dat)), mm(t(p), p)))


# ----- public functions -----
class SlogdetResult(NamedTuple):
    """(sign, logabsdet), as NumPy's: det = sign * exp(logabsdet)."""

    sign: Tensor
    logabsdet: Tensor


def inv(a: Any) -> Tensor:
    """Inverse of each matrix of a (..., n, n), as np.linalg.inv."""
    return Inv.apply(*_tensors(a))


def det(a: Any) -> Tensor:
    """Determinant of each matrix of a (..., n, n), as np.linalg.det."""
    return Det.apply(*_tensors(a))


def slogdet(a: Any) -> SlogdetResult:
    """(sign, log|det|) of each matrix, as np.linalg.slogdet; sign carries no gradient."""
    (a,) = _tensors(a)
    logabsdet = LogAbsDet.apply(a)
    sign = B.asarray(np.linalg.slogdet(_float(a._data))[0])
    return SlogdetResult(Tensor._make(sign, False, None), logabsdet)


def solve(a: Any, b: Any) -> Tensor:
    """x with a x = b, as np.linalg.solve (NumPy 2: b is a vector only when 1-D)."""
    a, b = _tensors(a, b)
    if b.ndim == 1:
        return Solve.apply(a, b.reshape(-1, 1)).reshape((*a.shape[:-2], b.shape[0]))
    return Solve.apply(a, b)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False) -> Tensor:
    """Moore-Penrose pseudo-inverse of each matrix, as np.linalg.pinv."""
    (a,) = _tensors(a)
    return Pinv.apply(a, rcond, hermitian)
