"""cr.scipy's values against SciPy over wide ranges and edge cases, the shapes SciPy's functions
return, and derivatives where the op table's samples do not reach (tails, supports, zeros).

The op table (tests/op_specs_scipy.py) checks every function's derivatives in both modes, to
second order, batched and against torch. (This folder has no __init__.py on purpose: a package
named ``scipy`` on sys.path would shadow SciPy itself.)
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from reference import assert_close

import chainrule as cr

S = pytest.importorskip("scipy.special")
ST = pytest.importorskip("scipy.stats")
SG = pytest.importorskip("scipy.signal")
sp, st, sg = cr.scipy.special, cr.scipy.stats, cr.scipy.signal


def _close(got: cr.Tensor, want: np.ndarray, rtol: float = 1e-12, atol: float = 1e-13) -> None:
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, (got_a.shape, want_a.shape)
    np.testing.assert_allclose(got_a, want_a, rtol=rtol, atol=atol, equal_nan=True)


def test_chainrule_needs_no_scipy() -> None:
    """import chainrule does not load SciPy, and cr.scipy works with SciPy unavailable."""
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import chainrule as cr\n"
            "assert cr.scipy.stats.t.logpdf(0.5, 3.0).item() < 0\n"
            "assert cr.scipy.special.digamma(1.0).item() < 0\n"
            "assert cr.scipy.signal.convolve([1.0, 2.0], [1.0, 1.0]).shape == (3,)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    fresh = "import sys, chainrule; assert 'scipy' not in sys.modules and 'chainrule.scipy' " \
            "not in sys.modules"
    subprocess.run([sys.executable, "-c", fresh], check=True)


# ----- special -----
WIDE = np.concatenate([np.linspace(1e-3, 40, 400), np.linspace(-30, -1e-3, 300) + 0.37,
                       [0.5, 1.0, 2.0, 1e4, 1e-8]])


@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_gamma_family_over_a_wide_range(name: str) -> None:
    want = getattr(S, name)(WIDE)
    _close(getattr(sp, name)(WIDE), want, rtol=1e-12, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_polygamma(n: int) -> None:
    x = np.linspace(0.05, 30, 200)
    _close(sp.polygamma(n, x), S.polygamma(n, x), rtol=1e-11)


def test_poles_and_special_points() -> None:
    x = np.array([0.0, -1.0, -2.0, 1.0, 2.0])
    _close(sp.gammaln(x), S.gammaln(x))
    _close(sp.digamma(x), S.digamma(x))
    _close(sp.polygamma(1, x[:3]), S.polygamma(1, x[:3]))
    with pytest.raises(ValueError, match="polygamma"):
        sp.polygamma(-1, 1.0)


def test_erf_family_and_tails() -> None:
    z = np.linspace(-40, 40, 801)
    _close(sp.erf(z), S.erf(z), rtol=1e-14)
    _close(sp.erfc(z), S.erfc(z), rtol=1e-13, atol=1e-300)
    _close(sp.ndtr(z), S.ndtr(z), rtol=1e-13, atol=1e-300)
    far = np.concatenate([z, [-1e3, -1e10, 1e3]])
    _close(sp.log_ndtr(far), S.log_ndtr(far), rtol=1e-12, atol=1e-300)


def test_logit_expit_and_xlogy_edges() -> None:
    p = np.array([0.0, 1e-12, 0.3, 0.5, 1.0])
    _close(sp.logit(p), S.logit(p))
    x = np.linspace(-50, 50, 11)
    _close(sp.expit(x), S.expit(x), rtol=1e-14, atol=0)
    a = np.array([0.0, 0.0, 0.0, 2.0, -1.0])
    b = np.array([0.0, -1.0, np.nan, 3.0, 0.5])
    _close(sp.xlogy(a, b), S.xlogy(a, b))
    _close(sp.xlog1py(a, b - 0.5), S.xlog1py(a, b - 0.5))


def test_xlogy_gradient_at_zero_is_finite() -> None:
    """d/dx xlogy(x, y) at x = 0, y = 0 is 0 (as torch), and a zero cotangent stays zero."""
    gx, gy = cr.grad(lambda x, y: sp.xlogy(x, y).sum(), argnums=(0, 1))(
        np.array([0.0, 2.0]), np.array([0.0, 4.0]))
    assert_close(gx, [0.0, np.log(4.0)])
    assert np.isfinite(gy.numpy()[1])


def test_logsumexp_like_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _close(sp.logsumexp(a), S.logsumexp(a))
    _close(sp.logsumexp(a, axis=1, keepdims=True), S.logsumexp(a, axis=1, keepdims=True))
    for axis in (None, 0, (0, 1)):
        got, sign = sp.logsumexp(a, axis=axis, b=b, return_sign=True)
        want, wsign = S.logsumexp(a, axis=axis, b=b, return_sign=True)
        _close(got, want)
        _close(sign, wsign)
    _close(sp.logsumexp(np.array([-np.inf, -np.inf])), S.logsumexp([-np.inf, -np.inf]))
    _close(sp.logsumexp(np.array([1e4, 1e4])), S.logsumexp([1e4, 1e4]))


def test_softmax_axes() -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 2))
    for axis in (None, 0, -1, (0, 2)):
        _close(sp.softmax(x, axis=axis), S.softmax(x, axis=axis))
        _close(sp.log_softmax(x, axis=axis), S.log_softmax(x, axis=axis))


def test_float32_stays_float32() -> None:
    x = cr.tensor(np.array([0.5, 1.5], np.float32), requires_grad=True)
    for f in (sp.gammaln, sp.digamma, sp.erfc, sp.log_ndtr, sp.logit,
              lambda v: st.t.logpdf(v, 3.0), lambda v: st.gamma.logpdf(v, 2.0, scale=2.0),
              lambda v: sg.convolve(v, [1.0, 2.0, 3.0])):
        y = f(x * 0.5)
        assert y.dtype == np.float32
        (g,) = cr.grad(lambda v, f=f: f(v * 0.5).sum(), argnums=(0,))(x)
        assert g.dtype == np.float32


# ----- stats -----
def test_norm() -> None:
    rng = np.random.default_rng(2)
    x, loc, scale = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    for m in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        _close(getattr(st.norm, m)(x, loc, scale), getattr(ST.norm, m)(x, loc, scale))
    far = np.array([-60.0, -9.0, 9.0, 60.0])
    _close(st.norm.logcdf(far), ST.norm.logcdf(far), atol=1e-300)
    _close(st.norm.logsf(far), ST.norm.logsf(far), atol=1e-300)
    # the derivative of log Phi stays finite far in the left tail (about -z)
    d = cr.grad(lambda z: st.norm.logcdf(z).sum())(np.array([-40.0]))
    assert_close(d, [40.0], rtol=1e-3)


def test_continuous_shape_families() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 4, (3, 4))
    a, b = rng.uniform(0.5, 3, 4), rng.uniform(0.5, 3, (3, 1))
    _close(st.t.logpdf(x, a, 0.3, 1.7), ST.t.logpdf(x, a, 0.3, 1.7))
    _close(st.t.pdf(x, b), ST.t.pdf(x, b))
    _close(st.gamma.logpdf(x, a, -0.5, 2.0), ST.gamma.logpdf(x, a, -0.5, 2.0))
    _close(st.gamma.pdf(x, b), ST.gamma.pdf(x, b))
    _close(st.gamma.logpdf(0.0, 1.0), ST.gamma.logpdf(0.0, 1.0))
    u = np.linspace(-0.5, 1.5, 9)
    _close(st.beta.logpdf(u, 2.0, 3.0), ST.beta.logpdf(u, 2.0, 3.0))
    _close(st.beta.pdf(x / 4, a, b), ST.beta.pdf(x / 4, a, b))
    _close(st.beta.logpdf(x, a, b, -1.0, 5.0), ST.beta.logpdf(x, a, b, -1.0, 5.0))


def test_outside_the_support_gradient_is_zero() -> None:
    """-inf log-density outside the support, with derivative 0 there (not NaN)."""
    ga = cr.grad(lambda a: st.gamma.logpdf(np.array([-1.0, 2.0]), a).sum())(np.array([2.0, 2.0]))
    assert_close(ga, [0.0, np.log(2.0) - sp.digamma(2.0).item()])
    gp = cr.grad(lambda mu: st.poisson.logpmf(np.array([1.5, 2.0]), mu).sum())(np.array([3.0, 3.0]))
    assert_close(gp, [0.0, 2.0 / 3.0 - 1.0])


def test_discrete() -> None:
    k = np.array([0, 1, 2, 7, 1.5, -1])
    mu = np.array([0.5, 1.0, 2.0, 3.0, 2.0, 2.0])
    _close(st.poisson.logpmf(k, mu), ST.poisson.logpmf(k, mu))
    _close(st.poisson.pmf(k, mu, loc=1), ST.poisson.pmf(k, mu, loc=1))
    _close(st.poisson.logpmf(0, 0.0), ST.poisson.logpmf(0, 0.0))
    kb = np.array([0, 1, 2, 0.5, 1])
    _close(st.bernoulli.logpmf(kb, 0.3), ST.bernoulli.logpmf(kb, 0.3))
    _close(st.bernoulli.pmf(kb, np.linspace(0.1, 0.9, 5)),
           ST.bernoulli.pmf(kb, np.linspace(0.1, 0.9, 5)))


def test_multivariate_normal_shapes() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 3))
    cov, mean = a @ a.T + np.eye(3), rng.standard_normal(3)
    for x in (rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal((2, 4, 3)),
              rng.standard_normal((1, 3))):
        _close(st.multivariate_normal.logpdf(x, mean, cov), ST.multivariate_normal.logpdf(x, mean,
                                                                                      cov))
        _close(st.multivariate_normal.pdf(x, mean, np.diag(cov)),
               ST.multivariate_normal.pdf(x, mean, np.diag(cov)))
    x1 = rng.standard_normal(4)  # d = 1: four points
    _close(st.multivariate_normal.logpdf(x1), ST.multivariate_normal.logpdf(x1))
    _close(st.multivariate_normal.logpdf(x1, 0.5, 2.0), ST.multivariate_normal.logpdf(x1, 0.5, 2.0))
    with pytest.raises(ValueError, match="dimension"):
        st.multivariate_normal.logpdf(np.ones((2, 4)), mean, cov)


def test_dirichlet() -> None:
    rng = np.random.default_rng(5)
    alpha = np.array([0.7, 2.0, 3.5])
    x = rng.dirichlet(alpha, 6).T
    _close(st.dirichlet.logpdf(x, alpha), ST.dirichlet.logpdf(x, alpha))
    _close(st.dirichlet.pdf(x[:, 0], alpha), ST.dirichlet.pdf(x[:, 0], alpha))
    _close(st.dirichlet.logpdf(x[:2], alpha), ST.dirichlet.logpdf(x[:2], alpha))
    with pytest.raises(ValueError, match="components"):
        st.dirichlet.logpdf(x[:1], alpha)


def test_gradients_match_torch_distributions() -> None:
    """Gradients in the shape parameters, on wider values than the op table's."""
    torch = pytest.importorskip("torch")
    x, df, a = np.array([-3.0, 0.2, 8.0]), np.array([0.7, 4.0, 30.0]), np.array([0.3, 1.0, 9.0])
    g_df = cr.grad(lambda d: st.t.logpdf(x, d).sum())(df)
    tdf = torch.tensor(df, requires_grad=True)
    torch.distributions.StudentT(tdf).log_prob(torch.tensor(x)).sum().backward()
    assert_close(g_df, tdf.grad.numpy(), rtol=1e-10)
    h = cr.hessian(lambda v: sp.gammaln(v).sum())(a)
    # torch's trigamma is good to about 1e-10 (ours matches SciPy and mpmath to 1e-15)
    assert_close(np.diag(h.numpy()), torch.special.polygamma(1, torch.tensor(a)).numpy(),
                 rtol=1e-9)
    assert_close(np.diag(h.numpy()), S.polygamma(1, a), rtol=1e-13)


# ----- signal -----
SHAPES = [((7,), (3,)), ((3,), (7,)), ((5, 6), (2, 3)), ((2, 3), (5, 6)), ((4, 2), (2, 2)),
          ((4, 3, 5), (2, 2, 3)), ((4,), (4,)), ((1,), (1,))]


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("fn", ["convolve", "correlate"])
def test_signal_like_scipy(fn: str, mode: str) -> None:
    rng = np.random.default_rng(6)
    for s1, s2 in SHAPES:
        a, b = rng.standard_normal(s1), rng.standard_normal(s2)
        _close(getattr(sg, fn)(a, b, mode), getattr(SG, fn)(a, b, mode), rtol=1e-11, atol=1e-12)


def test_signal_errors_and_scalars() -> None:
    _close(sg.convolve(np.array(2.0), np.array(3.0)), SG.convolve(np.array(2.0), np.array(3.0)))
    with pytest.raises(ValueError, match="valid"):
        sg.convolve(np.ones((3, 2)), np.ones((2, 3)), "valid")
    with pytest.raises(ValueError, match="dimensionality"):
        sg.correlate(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="mode"):
        sg.convolve(np.ones(3), np.ones(2), "circular")
