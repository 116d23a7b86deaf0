"""cr.linalg: NumPy's linear algebra, differentiable in both modes to any order.

Batched over leading axes as NumPy is. Each function is an op with forward, reverse and forward
rules (inverse.py, decomp.py) or composed from other ops (composite.py, norms.py).
"""

from numpy.linalg import LinAlgError

from chainrule.linalg.composite import lstsq, matrix_power, matrix_rank, solve_triangular
from chainrule.linalg.decomp import (
    EighResult,
    QRResult,
    SVDResult,
    cholesky,
    eigh,
    eigvalsh,
    qr,
    svd,
)
from chainrule.linalg.inverse import SlogdetResult, det, inv, pinv, slogdet, solve
from chainrule.linalg.norms import norm

__all__ = [
    "EighResult", "LinAlgError", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "det",
    "eigh", "eigvalsh", "inv", "lstsq", "matrix_power", "matrix_rank", "norm", "pinv", "qr",
    "slogdet", "solve", "solve_triangular", "svd",
]
