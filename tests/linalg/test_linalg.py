"""cr.linalg beyond the op table (tests/op_specs_linalg.py): NumPy's return values, the
non-differentiable parts, degenerate spectra, and the derivatives that must refuse."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from op_specs import OP_SPECS
from reference import assert_close

import chainrule as cr

L = cr.linalg
NOT_DIFFERENTIABLE = {"matrix_rank"}


def test_import_stays_light() -> None:
    code = "import sys, chainrule; print('chainrule.linalg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_function_has_a_row() -> None:
    covered = {s.covers for s in OP_SPECS}
    functions = [n for n in L.__all__ if callable(getattr(L, n)) and n[0].islower()]
    missing = [n for n in functions if n not in NOT_DIFFERENTIABLE and f"linalg.{n}" not in covered]
    assert not missing, f"no row in tests/op_specs_linalg.py for {missing}"


def test_results_as_numpy(rng: np.random.Generator) -> None:
    a = rng.standard_normal((2, 3, 3))
    sign, logabsdet = L.slogdet(a)
    want = np.linalg.slogdet(a)
    assert_close(sign, want.sign)
    assert_close(logabsdet, want.logabsdet, rtol=1e-12)
    s = a @ a.swapaxes(-1, -2) + np.eye(3)
    assert_close(L.eigh(s).eigenvalues, np.linalg.eigh(s).eigenvalues, rtol=1e-12)
    assert_close(L.qr(a[0], mode="r"), np.linalg.qr(a[0], mode="r"), rtol=1e-12)


def test_full_matrices_values_and_refused_derivative(rng: np.random.Generator) -> None:
    a = rng.standard_normal((4, 2))
    for got, want in zip(L.svd(a), np.linalg.svd(a), strict=True):
        assert_close(np.abs(got.cpu().numpy()), np.abs(want), rtol=1e-12)
    q, r = L.qr(a, mode="complete")
    assert q.shape == (4, 4)
    assert r.shape == (4, 2)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        cr.grad(lambda x: L.svd(x)[0].sum())(a)
    with pytest.raises(NotImplementedError, match="complete"):
        cr.grad(lambda x: L.qr(x, mode="complete")[0].sum())(a)
    # square: full and reduced are the same factorization, so the derivative is defined
    sq = rng.standard_normal((3, 3))
    g_full = cr.grad(lambda x: L.svd(x)[1].sum())(sq)
    assert_close(g_full, cr.grad(lambda x: L.svd(x, full_matrices=False)[1].sum())(sq))


def test_degenerate_spectrum_keeps_eigenvalue_gradients_finite() -> None:
    a = np.diag([1.0, 1.0, 2.0])
    g = cr.grad(lambda x: L.eigvalsh(x).sum())(a)  # d trace = I
    assert_close(g, np.eye(3), rtol=1e-12, atol=1e-12)
    h = cr.hessian(lambda x: L.eigvalsh(x).sum())(a)
    assert np.isfinite(h.cpu().numpy()).all()
    gs = cr.grad(lambda x: L.svd(x, compute_uv=False).sum())(np.eye(3))  # nuclear norm
    assert_close(gs, np.eye(3), rtol=1e-12, atol=1e-12)


def test_norm_at_zero_has_zero_gradient() -> None:
    z = np.zeros((2, 3))
    for f in (L.norm, lambda x: L.norm(x, axis=1), lambda x: L.norm(x, "fro")):
        assert_close(cr.grad(lambda x, f=f: f(x).sum())(z), z)


def test_norm_ord_zero_and_errors(rng: np.random.Generator) -> None:
    x = np.array([0.0, 2.0, -1.0, 0.0])
    assert_close(L.norm(x, 0), np.linalg.norm(x, 0))
    with pytest.raises(ValueError, match="norm"):
        L.norm(x, "fro")
    with pytest.raises(ValueError, match="norm"):
        L.norm(rng.standard_normal((2, 2, 2)), 2)


def test_matrix_rank_and_lstsq_extras(rng: np.random.Generator) -> None:
    a = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4))  # rank 2
    assert int(L.matrix_rank(a).item()) == np.linalg.matrix_rank(a) == 2
    assert not L.matrix_rank(cr.tensor(a, requires_grad=True)).requires_grad
    b = rng.standard_normal((5, 3))
    x, residuals, rank, s = L.lstsq(a, b)
    wx, wres, wrank, ws = np.linalg.lstsq(a, b)
    assert_close(x, wx, rtol=1e-8, atol=1e-10)
    assert residuals.shape == wres.shape == (0,)
    assert rank == wrank == 2
    assert_close(s, ws, rtol=1e-10, atol=1e-12)
    full = rng.standard_normal((5, 3))
    for got, want in zip(L.lstsq(full, b[:, 0]), np.linalg.lstsq(full, b[:, 0]), strict=True):
        assert_close(got, want, rtol=1e-10)


def test_errors_name_the_function(rng: np.random.Generator) -> None:
    with pytest.raises(np.linalg.LinAlgError, match="inv"):
        L.inv(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="solve"):
        L.solve(np.eye(3), rng.standard_normal((2, 2)))
    with pytest.raises(TypeError, match="matrix_power"):
        L.matrix_power(np.eye(2), 1.5)
