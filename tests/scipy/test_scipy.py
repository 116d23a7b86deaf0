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
from reference import assert_close, to_numpy

import chainrule as cr

S = pytest.importorskip("scipy.special")
ST = pytest.importorskip("scipy.stats")
SG = pytest.importorskip("scipy.signal")
sp, st, sg = cr.scipy.special, cr.scipy.stats, cr.scipy.signal


def _close(got: cr.Tensor, want: np.ndarray, rtol: float = 1e-12, atol: float = 1e-13) -> None:
    got_a, want_a = to_numpy(got), to_numpy(want)
    assert got_a.shape == want_a.shape, (got_a.shape, want_a.shape)
    np.testing.assert_allclose(got_a, want_a, rtol=rtol, atol=atol, equal_nan=True)


def test_chainrule_needs_no_scipy() -> None:
    """import chainrule does not load SciPy, and cr.scipy works with SciPy unavailable."""
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import chainrule as cr\n"
            "assert cr.scipy.stats.t.logpdf(0.5, 3.0).item() < 0\n"
            "assert cr.scipy.special.digamma(1.0).item() < 0\n"
            "assert cr.scipy.signal.convolve([1.0, 2.0], [1.0, 1.0]).shape == (3,)\n"
            "assert abs(cr.scipy.special.gamma(4.0).item() - 6) < 1e-5\n"
            "assert cr.scipy.special.multigammaln(3.0, 2).item() > 0\n"
            "try:\n"
            "    cr.scipy.special.gammainc(1.0, 2.0)\n"
            "except ImportError as e:\n"
            "    assert 'install SciPy' in str(e)\n"
            "else:\n"
            "    raise AssertionError('gammainc without SciPy')\n")
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
    assert np.isfinite(gy.cpu().numpy()[1])


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
    assert_close(np.diag(h.cpu().numpy()), torch.special.polygamma(1, torch.tensor(a)).numpy(),
                 rtol=1e-9)
    assert_close(np.diag(h.cpu().numpy()), S.polygamma(1, a), rtol=1e-13)


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


# ----- special: the functions SciPy supplies values for, and the gamma family -----
def test_gamma_rgamma_gammasgn_like_scipy() -> None:
    x = np.concatenate([np.linspace(0.05, 30, 300), np.linspace(-9.9, -0.1, 99) + 0.013,
                        [0.0, -0.0, -1.0, -2.0, np.inf, np.nan]])
    _close(sp.gamma(x), S.gamma(x), rtol=1e-12)
    _close(sp.rgamma(x), S.rgamma(x), rtol=1e-12)
    _close(sp.gammasgn(x), S.gammasgn(x))
    g = cr.grad(lambda v: sp.gammasgn(v).sum())(np.array([-1.5, 2.0]))
    assert_close(g, [0.0, 0.0])  # piecewise constant: derivative 0
    a, b = np.linspace(-3.7, 5, 40), np.linspace(0.2, 4, 40)[::-1]
    _close(sp.beta(a, b), S.beta(a, b), rtol=1e-11)
    _close(sp.multigammaln(np.linspace(2, 9, 8), 4), S.multigammaln(np.linspace(2, 9, 8), 4),
           rtol=1e-13)
    with pytest.raises(ValueError, match="multigammaln"):
        sp.multigammaln(1.0, 4)


def test_incomplete_functions_and_erfinv_like_scipy() -> None:
    a = np.array([[0.1], [0.5], [1.0], [3.0], [20.0]])
    x = np.linspace(0.0, 30.0, 31)
    _close(sp.gammainc(a, x), S.gammainc(a, x))
    _close(sp.gammaincc(a, x), S.gammaincc(a, x))
    u = np.linspace(0, 1, 21)
    _close(sp.betainc(a, a.T[:, :1] + 0.5, u), S.betainc(a, a.T[:, :1] + 0.5, u))
    p = np.linspace(-1, 1, 41)
    _close(sp.erfinv(p), S.erfinv(p))
    _close(sp.erfcinv(p + 1), S.erfcinv(p + 1))
    # the derivatives at the ends of the support: x^(a-1) at x = 0 with a = 1 is 1, not NaN
    g = cr.grad(lambda v: sp.gammainc(1.0, v).sum())(np.array([0.0, 1.0]))
    assert_close(g, np.exp(-np.array([0.0, 1.0])))
    g = cr.grad(lambda v: sp.betainc(1.0, 1.0, v).sum())(np.array([0.0, 0.5, 1.0]))
    assert_close(g, [1.0, 1.0, 1.0])
    assert_close(cr.grad(lambda v: sp.erfinv(v))(np.array(0.3)),
                 np.sqrt(np.pi) / 2 * np.exp(S.erfinv(0.3) ** 2))


@pytest.mark.parametrize("fn", ["gammainc", "gammaincc", "betainc"])
def test_no_derivative_in_the_shape_parameters(fn: str) -> None:
    """As JAX's betainc and autograd: a (and b) carry no derivative; asking for one raises."""
    f = getattr(sp, fn)
    extra = (2.0,) if fn == "betainc" else ()
    with pytest.raises(ValueError, match=f"{fn}: no derivative with respect to a"):
        cr.grad(lambda a: f(a, *extra, 0.5))(1.5)
    with pytest.raises(ValueError, match="the order"):
        cr.grad(lambda v: sp.iv(v, 0.5))(1.5)
    # constants are fine, whatever their type
    assert np.isfinite(cr.grad(lambda x: f(cr.tensor(1.5), *extra, x))(0.5).item())


@pytest.mark.parametrize("name", ["j0", "j1", "y0", "y1", "i0", "i1", "i0e", "i1e"])
def test_bessel_like_scipy(name: str) -> None:
    x = np.concatenate([np.linspace(0.01, 60, 500), -np.linspace(0.01, 20, 50)])
    if name.startswith("y"):
        x = np.abs(x)
    _close(getattr(sp, name)(x), getattr(S, name)(x), rtol=1e-14, atol=0)


def test_bessel_orders_and_derivatives() -> None:
    x = np.linspace(0.2, 15, 40)
    n = np.array([[0], [1], [2], [5], [-3]])
    _close(sp.jn(n, x), S.jn(n, x))
    _close(sp.yn(n, x), S.yn(n, x))
    v = np.array([[0.3], [1.5], [4.25]])
    _close(sp.jv(v, x), S.jv(v, x))
    _close(sp.iv(v, x), S.iv(v, x))
    _close(sp.ive(v, x), S.ive(v, x))
    _close(sp.yv(v, x), S.yv(v, x))
    with pytest.raises(ValueError, match="whole"):
        sp.jn(1.5, x)
    # the recurrences against SciPy's own derivatives
    for f, d in ((sp.j0, lambda t: S.jvp(0, t)), (sp.y1, lambda t: S.yvp(1, t)),
                 (lambda t: sp.iv(2.5, t), lambda t: S.ivp(2.5, t)),
                 (lambda t: sp.jn(3, t), lambda t: S.jvp(3, t)),
                 (lambda t: sp.yv(0.7, t), lambda t: S.yvp(0.7, t))):
        assert_close(cr.grad(lambda t, f=f: f(t).sum())(x), d(x), rtol=1e-10, atol=1e-13)
    xs = np.array([-2.0, -0.5, 0.7, 3.0])  # the scaled family on both sides of 0
    for v in (0, 1, 2):
        want = S.ivp(v, xs) * np.exp(-np.abs(xs)) - np.sign(xs) * S.ive(v, xs)
        assert_close(cr.grad(lambda t, v=v: sp.ive(v, t).sum())(xs), want, rtol=1e-10)


def test_new_special_float32() -> None:
    x = cr.tensor(np.array([0.3, 0.7], np.float32), requires_grad=True)
    for f in (sp.gamma, sp.rgamma, sp.erfinv, sp.j1, sp.i0e, lambda v: sp.jn(2, v),
              lambda v: sp.gammainc(2.0, v), lambda v: sp.betainc(2.0, 3.0, v),
              lambda v: sp.multigammaln(v + 2, 2), lambda v: st.t.cdf(v, 3.0)):
        assert f(x).dtype == np.float32
        assert cr.grad(lambda v, f=f: f(v).sum())(x).dtype == np.float32


# ----- stats: CDFs, chi2, entropy, allow_singular -----
def test_cdfs_like_scipy() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 5, (3, 4))
    a, b = rng.uniform(0.5, 3, 4), rng.uniform(0.5, 3, (3, 1))
    _close(st.t.cdf(x, a, 0.3, 1.7), ST.t.cdf(x, a, 0.3, 1.7))
    _close(st.t.logcdf(x, b), ST.t.logcdf(x, b), rtol=1e-11)
    _close(st.gamma.cdf(x, a, -0.5, 2.0), ST.gamma.cdf(x, a, -0.5, 2.0))
    _close(st.chi2.cdf(x, b), ST.chi2.cdf(x, b))
    _close(st.chi2.logpdf(x, a, 0.1, 1.3), ST.chi2.logpdf(x, a, 0.1, 1.3))
    _close(st.chi2.pdf(x, b), ST.chi2.pdf(x, b))
    _close(st.beta.cdf(x / 4, a, b), ST.beta.cdf(x / 4, a, b))
    _close(st.beta.cdf(x, a, 1.5, -1.0, 5.0), ST.beta.cdf(x, a, 1.5, -1.0, 5.0))
    k = np.array([0, 1, 2.5, 7, -1, 3])
    mu = np.array([0.5, 1.0, 2.0, 3.0, 2.0, 0.1])
    _close(st.poisson.cdf(k, mu), ST.poisson.cdf(k, mu))
    _close(st.poisson.cdf(k, mu, loc=1), ST.poisson.cdf(k, mu, loc=1))


def test_cdf_gradients_outside_the_support_are_zero() -> None:
    assert_close(cr.grad(lambda v: st.gamma.cdf(v, 2.0).sum())(np.array([-1.0, 0.0, 1.0])),
                 [0.0, 0.0, np.exp(-1.0)])
    assert_close(cr.grad(lambda v: st.beta.cdf(v, 2.0, 3.0).sum())(
        np.array([-1.0, 0.0, 0.5, 1.0, 2.0])), [0.0, 0.0, ST.beta.pdf(0.5, 2.0, 3.0), 0.0, 0.0])
    # d/dmu of P(K <= k) is -pmf(floor k, mu), and 0 below the support
    assert_close(cr.grad(lambda m: st.poisson.cdf(np.array([-1.0, 2.5]), m).sum())(
        np.array([1.0, 2.0])), [0.0, -ST.poisson.pmf(2, 2.0)])
    assert_close(cr.grad(lambda s: st.t.cdf(0.7, 4.0, 0.2, s))(np.array(1.5)),
                 -ST.t.pdf(0.7, 4.0, 0.2, 1.5) * 0.5 / 1.5)
    with pytest.raises(ValueError, match="df"):
        cr.grad(lambda df: st.t.cdf(0.5, df))(3.0)


def test_multivariate_normal_entropy_and_singular() -> None:
    rng = np.random.default_rng(8)
    m = rng.standard_normal((3, 3))
    cov, mean = m @ m.T + np.eye(3), rng.standard_normal(3)
    _close(st.multivariate_normal.entropy(mean, cov), ST.multivariate_normal.entropy(mean, cov))
    _close(st.multivariate_normal.entropy(None, np.float64(2.0)),
           ST.multivariate_normal.entropy(None, 2.0))
    g = cr.grad(lambda c: st.multivariate_normal.entropy(mean, c))(cov)
    assert_close(g, 0.5 * np.linalg.inv(cov), rtol=1e-12)
    # a rank-2 covariance in 3-d: -inf off the plane it spans, pinv/pdet on it
    f = rng.standard_normal((3, 2))
    sing = f @ f.T
    x = mean + rng.standard_normal((4, 2)) @ f.T
    x[0] += np.linalg.svd(f)[0][:, 2]
    got = st.multivariate_normal.logpdf(x, mean, sing, allow_singular=True)
    _close(got, ST.multivariate_normal.logpdf(x, mean, sing, allow_singular=True), rtol=1e-10)
    for c in (cov, np.diag(cov), np.float64(1.7)):  # full rank: the same as without
        _close(st.multivariate_normal.logpdf(x, mean, c, allow_singular=True),
               ST.multivariate_normal.logpdf(x, mean, c, allow_singular=True))
    gm = cr.grad(lambda mu: st.multivariate_normal.logpdf(x[1:], mu, sing,
                                                          allow_singular=True).sum())(mean)
    assert_close(gm, (np.linalg.pinv(sing) @ (x[1:] - mean).T).sum(1), rtol=1e-8)
    with pytest.raises(ValueError, match="cov"):
        cr.grad(lambda c: st.multivariate_normal.logpdf(x, mean, c, allow_singular=True).sum()
                )(cov)


# ----- linalg -----
def test_linalg_like_scipy() -> None:
    L = pytest.importorskip("scipy.linalg")
    sl = cr.scipy.linalg
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal((3, 3)) + 4 * np.eye(3)
    q = rng.standard_normal((2, 4, 3))
    got = sl.solve_sylvester(a, b, q)
    for i in range(2):
        _close(got[i], L.solve_sylvester(a[i], b, q[i]), rtol=1e-12, atol=1e-14)
    m = rng.standard_normal((5, 5))
    spd = m @ m.T + 0.1 * np.eye(5)
    _close(sl.sqrtm(spd), L.sqrtm(spd), rtol=1e-10, atol=1e-12)
    _close(sl.sqrtm(a)[1], L.sqrtm(a[1]), rtol=1e-10, atol=1e-12)
    h = cr.hessian(lambda v: (sl.sqrtm(v) ** 2).sum())(spd)
    assert h.shape == (5, 5, 5, 5)
    with pytest.raises(ValueError, match="complex"):
        sl.sqrtm(-np.eye(2))
    ab = rng.standard_normal((4, 6))
    ab[2] += 5
    rhs = rng.standard_normal((6, 2))
    _close(sl.solve_banded((1, 2), ab, rhs), L.solve_banded((1, 2), ab, rhs), rtol=1e-12)
    assert sl.solve_triangular is cr.linalg.solve_triangular  # one implementation


# ----- integrate -----
def _lotka_volterra(y: cr.Tensor, t: cr.Tensor, p: cr.Tensor) -> cr.Tensor:
    return cr.stack([p[0] * y[0] - p[1] * y[0] * y[1], -p[2] * y[1] + p[3] * y[0] * y[1]])


def test_odeint_values_and_gradients() -> None:
    integ = pytest.importorskip("scipy.integrate")
    y0, t, p = np.array([1.0, 0.5]), np.array([0.0, 0.5, 1.2, 2.0]), np.array([1.0, 0.8, 1.2,
                                                                               0.6])
    tol = {"rtol": 1e-12, "atol": 1e-12, "mxstep": 10000}
    ode = cr.scipy.integrate.odeint
    got = ode(_lotka_volterra, y0, t, (p,), **tol)
    want = integ.odeint(lambda y, s: np.array([p[0] * y[0] - p[1] * y[0] * y[1],
                                               -p[2] * y[1] + p[3] * y[0] * y[1]]), y0, t, **tol)
    # the same solver; func's last bits differ (chainrule's ops), and LSODA's steps with them
    _close(got, want, rtol=1e-8, atol=1e-12)
    # the Jacobians in p, t and y0: reverse (batched adjoint) and forward (batched
    # sensitivities) agree, and match central differences along a direction
    for i, x in enumerate((y0, t, p)):
        def f(v: cr.Tensor, i: int = i) -> cr.Tensor:
            xs = [y0, t, p]
            xs[i] = v
            return ode(_lotka_volterra, xs[0], xs[1], (xs[2],), **tol)

        rev = cr.jacobian(f, mode="reverse")(x).cpu().numpy()
        assert_close(rev, cr.jacobian(f, mode="forward")(x), rtol=1e-7, atol=1e-9)
        e = np.linspace(0.5, -0.3, x.size)
        fd = (f(x + 1e-3 * e).cpu().numpy() - f(x - 1e-3 * e).cpu().numpy()) / 2e-3
        assert_close(rev @ e, fd, rtol=1e-4, atol=1e-6)
    # second order: the rules are odeint calls themselves (nested adjoints)
    last = lambda q: ode(_lotka_volterra, y0, t[:2], (q,), **tol)[-1, 0]  # noqa: E731
    h = cr.hessian(last)(p).cpu().numpy()
    assert_close(h, h.T, rtol=1e-6, atol=1e-8)
    eps, e = 1e-4, np.array([0.3, -0.2, 0.5, 0.1])
    grad = cr.grad(last)
    fd = (grad(p + eps * e).cpu().numpy() - grad(p - eps * e).cpu().numpy()) / (2 * eps)
    assert_close(h @ e, fd, rtol=1e-4, atol=1e-6)


# ----- the op table covers cr.scipy -----
DERIVED = {"pdf", "pmf"}  # exp(logpdf) and exp(logpmf): covered by the log rows
NOT_DIFFERENTIABLE = {"special.gammasgn"}


def test_every_scipy_function_has_a_row() -> None:
    """Each public function of cr.scipy (each method of a distribution) has an op-table row,
    named "scipy.<module>.<name>" (aliases covered by identity)."""
    from op_specs import OP_SPECS
    from ops.test_op_table import covered_function

    covered = {id(covered_function(s.covers)) for s in OP_SPECS}
    missing = []
    for module in ("special", "linalg", "integrate", "signal"):
        for name in getattr(cr.scipy, module).__all__:
            if f"{module}.{name}" not in NOT_DIFFERENTIABLE and \
                    id(getattr(getattr(cr.scipy, module), name)) not in covered:
                missing.append(f"{module}.{name}")
    for name in st.__all__:
        dist = getattr(st, name)
        for method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf",
                       "entropy"):
            if method not in DERIVED and hasattr(dist, method) and not any(
                    s.covers == f"scipy.stats.{name}.{method}" for s in OP_SPECS):
                missing.append(f"stats.{name}.{method}")
    assert not missing, f"no row in tests/op_specs_scipy.py for {missing}"


def test_whole_number_orders_refuse_a_derivative_as_the_bessel_orders():
    n = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    x = cr.tensor(2.0, dtype=cr.float64)
    with pytest.raises(ValueError, match="polygamma: no derivative with respect to n"):
        cr.scipy.special.polygamma(n, x)
    with pytest.raises(ValueError, match="multigammaln: no derivative with respect to d"):
        cr.scipy.special.multigammaln(cr.tensor(3.0, dtype=cr.float64), n)
    assert float(cr.scipy.special.polygamma(n.detach(), x)) == pytest.approx(
        float(cr.scipy.special.polygamma(1, x)))


def test_odeint_args_may_be_containers_as_autograds_ode_net_passes_them():
    """args=([(W, b)],): func receives the same structure; gradients reach every leaf."""
    from chainrule.scipy.integrate import odeint

    rng = np.random.default_rng(0)
    W = cr.tensor(rng.standard_normal((2, 2)) * 0.5, dtype=cr.float64)
    b = cr.tensor(rng.standard_normal(2) * 0.1, dtype=cr.float64)
    y0 = cr.tensor([1.0, 0.5], dtype=cr.float64)
    t = cr.tensor([0.0, 0.5, 1.0], dtype=cr.float64)

    def nested(y, t, params):
        ((w, c),) = params
        return cr.tanh(y @ w + c)

    def flat(y, t, w, c):
        return cr.tanh(y @ w + c)

    got = cr.grad(lambda w, c: odeint(nested, y0, t, args=([(w, c)],))[-1].sum(),
                  argnums=(0, 1))(W, b)
    want = cr.grad(lambda w, c: odeint(flat, y0, t, args=(w, c))[-1].sum(), argnums=(0, 1))(W, b)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g.cpu().numpy(), h.cpu().numpy(), rtol=1e-12)
