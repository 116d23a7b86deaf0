"""cr.scipy.stats: SciPy's densities, differentiable in their continuous arguments.

Each distribution is an object with SciPy's method names and arguments (``norm.logpdf(x, loc,
scale)``), built from chainrule ops and ``cr.scipy.special``, so derivatives of any order flow
to x, loc, scale and the shape parameters (df, a, b, mu, p, mean, cov, alpha) in both modes.
Outside a distribution's support the log-density is -inf with derivative 0, as SciPy's value.

The CDFs are differentiable in x, loc and scale (and poisson's in mu), not in the shape
parameters (t's df, gamma's a, beta's a and b, chi2's df), as HIPS autograd's: a shape
parameter that carries a derivative raises a ValueError. Their values come from SciPy
(``cr.scipy.special.gammainc``, ``betainc``; imported on first call).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.linalg import cholesky, solve_triangular
from chainrule.scipy._incomplete import Stdtr
from chainrule.scipy._util import as_floats, constant_arg, values
from chainrule.scipy.special import (
    betainc,
    betaln,
    gammainc,
    gammaincc,
    gammaln,
    log_ndtr,
    ndtr,
    xlog1py,
    xlogy,
)
from chainrule.tensor import Tensor

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)


def _standardize(x: Any, loc: Any, scale: Any, *shape: Any) -> tuple[Tensor, ...]:
    """z = (x - loc) / scale, scale, and the shape parameters, as Tensors of one dtype."""
    x, loc, scale, *params = as_floats(x, loc, scale, *shape)
    return ((x - loc) / scale, scale, *params)


def _support(mask: np.ndarray, logp: Tensor) -> Tensor:
    """logp where mask holds, else -inf (no derivative there)."""
    if mask.all():
        return logp
    return ops.where(mask, logp, -np.inf)


def _inside(mask: np.ndarray, z: Tensor, fn: Any, below: float, above: float | None = None,
            upper: np.ndarray | None = None) -> Tensor:
    """fn(z) where mask holds, else below (or above where ``upper``), with no derivative there:
    fn sees 0.5 in place of z outside (the double-where), so no NaN reaches the derivative."""
    if mask.all():
        return fn(z)
    out = ops.where(mask, fn(ops.where(mask, z, 0.5)), below)
    return out if upper is None else ops.where(upper, above, out)


class _Continuous:
    """pdf = exp(logpdf)."""

    def logpdf(self, *args: Any, **kwargs: Any) -> Tensor:
        raise NotImplementedError

    def pdf(self, *args: Any, **kwargs: Any) -> Tensor:
        """The density: exp(logpdf), same arguments."""
        return ops.exp(self.logpdf(*args, **kwargs))


class _Discrete:
    """pmf = exp(logpmf)."""

    def logpmf(self, *args: Any, **kwargs: Any) -> Tensor:
        raise NotImplementedError

    def pmf(self, *args: Any, **kwargs: Any) -> Tensor:
        """The mass function: exp(logpmf), same arguments."""
        return ops.exp(self.logpmf(*args, **kwargs))


class Norm(_Continuous):
    """The normal distribution N(loc, scale^2)."""

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """-z^2/2 - log scale - log(2 pi)/2, z = (x - loc)/scale."""
        z, scale = _standardize(x, loc, scale)
        return -0.5 * (z * z) - ops.log(scale) - _HALF_LOG_2PI

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """Phi(z).  Derivative in z: phi(z)."""
        return ndtr(_standardize(x, loc, scale)[0])

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """log Phi(z), accurate far in the left tail.  Derivative in z: phi(z)/Phi(z)."""
        return log_ndtr(_standardize(x, loc, scale)[0])

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """1 - Phi(z) = Phi(-z)."""
        return ndtr(-_standardize(x, loc, scale)[0])

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """log Phi(-z)."""
        return log_ndtr(-_standardize(x, loc, scale)[0])


class StudentT(_Continuous):
    """Student's t distribution with df degrees of freedom, shifted and scaled."""

    def cdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """stdtr(df, z).  Derivative in z: the t density; none in df (a ValueError)."""
        z, scale, df = _standardize(x, loc, scale, df)
        return Stdtr.apply(z, constant_arg("t.cdf", "df", df))

    def logcdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """log stdtr(df, z).  Derivative in z: pdf/cdf; none in df."""
        return ops.log(self.cdf(x, df, loc, scale))

    def logpdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - log scale
        - (df+1)/2 log(1 + z^2/df)."""
        z, scale, df = _standardize(x, loc, scale, df)
        half = 0.5 * (df + 1)
        return (gammaln(half) - gammaln(0.5 * df) - 0.5 * (ops.log(df) + _LOG_PI)
                - ops.log(scale) - half * ops.log1p(z * z / df))


class Gamma(_Continuous):
    """The gamma distribution with shape a, on x >= loc."""

    def logpdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """(a-1) log z - z - gammaln(a) - log scale for z = (x - loc)/scale >= 0."""
        z, scale, a = _standardize(x, loc, scale, a)
        logp = xlogy(a - 1, z) - z - gammaln(a) - ops.log(scale)
        return _support(values(z) >= 0, logp)

    def cdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """P(a, z) for z > 0, else 0.  Derivative in z: the density; none in a."""
        z, scale, a = _standardize(x, loc, scale, a)
        av = constant_arg("gamma.cdf", "a", a)
        return _inside(values(z) > 0, z, lambda u: gammainc(av, u), 0.0)


class Chi2(_Continuous):
    """The chi-squared distribution with df degrees of freedom: gamma(df/2, loc, 2 scale)."""

    def logpdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """gamma.logpdf(x, df/2, loc, 2 scale)."""
        x, df, loc, scale = as_floats(x, df, loc, scale)
        return gamma.logpdf(x, 0.5 * df, loc, 2 * scale)

    def cdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """P(df/2, z/2) for z > 0, else 0.  Derivative in z: the density; none in df."""
        x, df, loc, scale = as_floats(x, df, loc, scale)
        constant_arg("chi2.cdf", "df", df)
        return gamma.cdf(x, 0.5 * values(df), loc, 2 * scale)


class Beta(_Continuous):
    """The beta distribution with shapes a, b, on loc <= x <= loc + scale."""

    def logpdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """(a-1) log z + (b-1) log(1 - z) - betaln(a, b) - log scale for 0 <= z <= 1."""
        z, scale, a, b = _standardize(x, loc, scale, a, b)
        logp = xlogy(a - 1, z) + xlog1py(b - 1, -z) - betaln(a, b) - ops.log(scale)
        zv = values(z)
        return _support((zv >= 0) & (zv <= 1), logp)

    def cdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """I_z(a, b) for 0 < z < 1 (0 below, 1 above).  Derivative in z: the density; none in
        a and b."""
        z, scale, a, b = _standardize(x, loc, scale, a, b)
        av, bv = constant_arg("beta.cdf", "a", a), constant_arg("beta.cdf", "b", b)
        zv = values(z)
        return _inside((zv > 0) & (zv < 1), z, lambda u: betainc(av, bv, u), 0.0, 1.0,
                       zv >= 1)


class Poisson(_Discrete):
    """The Poisson distribution with mean mu (differentiable in mu)."""

    def logpmf(self, k: Any, mu: Any, loc: Any = 0) -> Tensor:
        """k log mu - mu - gammaln(k + 1) for whole k >= 0 (k = k - loc), else -inf."""
        k, mu, loc = as_floats(k, mu, loc)
        k = k - loc
        kv = values(k)
        logp = xlogy(k, mu) - mu - gammaln(k + 1)
        return _support((kv >= 0) & (kv == np.floor(kv)), logp)

    def cdf(self, k: Any, mu: Any, loc: Any = 0) -> Tensor:
        """Q(floor(k) + 1, mu) for k >= 0 (k = k - loc), else 0.  Derivative in mu:
        -pmf(floor(k), mu); none in k."""
        k, mu, loc = as_floats(k, mu, loc)
        kv = np.floor(constant_arg("poisson.cdf", "k", k) - constant_arg("poisson.cdf", "loc",
                                                                          loc))
        q = gammaincc(np.maximum(kv, 0) + 1, mu)
        return q if (kv >= 0).all() else ops.where(kv >= 0, q, 0.0)


class Bernoulli(_Discrete):
    """The Bernoulli distribution with P(1) = p (differentiable in p)."""

    def logpmf(self, k: Any, p: Any, loc: Any = 0) -> Tensor:
        """k log p + (1 - k) log(1 - p) for k in {0, 1} (k = k - loc), else -inf."""
        k, p, loc = as_floats(k, p, loc)
        k = k - loc
        kv = values(k)
        logp = xlogy(k, p) + xlog1py(1 - k, -p)
        return _support((kv == 0) | (kv == 1), logp)


class MultivariateNormal(_Continuous):
    """The multivariate normal N(mean, cov); x's last axis holds the d coordinates."""

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False
               ) -> Tensor:
        """-(d log 2 pi + log det cov + r^T cov^-1 r)/2, r = x - mean, through the Cholesky
        factor of the symmetric part of cov (a scalar or a vector of variances work too).

        Shapes as SciPy's: a 1-d x is one point (d > 1) or d = 1 points, and the result has
        its length-1 axes squeezed. With ``allow_singular`` cov may be singular: the
        pseudo-inverse and pseudo-determinant over the eigenvalues above SciPy's cutoff,
        -inf off the support; differentiable in x and mean, not in cov (a ValueError, as HIPS
        autograd).
        """
        x, mean, cov, d = _mvn_args(x, mean, cov)
        r = x - mean
        if allow_singular:
            return _squeeze(_singular_logpdf(r, cov, d))
        if cov.ndim < 2:  # isotropic or diagonal: no factorization
            quad = ops.sum(r * r / cov, axis=-1)
        else:
            chol = cholesky(0.5 * (cov + cov.T))
            lead = r.shape[:-1]
            y = solve_triangular(chol, r.reshape(-1, d).T, lower=True)
            quad = ops.sum(y * y, axis=0).reshape(lead)
        return _squeeze(-0.5 * (quad + _logdet(cov, d)) - d * _HALF_LOG_2PI)

    def entropy(self, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Tensor:
        """(d (1 + log 2 pi) + log det cov)/2.  Derivative: cov^-1/2 in cov (none in mean)."""
        mean, cov = as_floats(0.0 if mean is None else mean, cov)
        d = mean.size if mean.ndim else (cov.shape[0] if cov.ndim else 1)
        return 0.5 * (d * (1 + 2 * _HALF_LOG_2PI) + _logdet(cov, d))


def _mvn_args(x: Any, mean: Any, cov: Any) -> tuple[Tensor, Tensor, Tensor, int]:
    """x (points on the last axis), mean, cov as Tensors, and the dimension d."""
    x, mean, cov = as_floats(x, 0.0 if mean is None else mean, cov)
    d = mean.size if mean.ndim else (cov.shape[0] if cov.ndim else 1)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim == 1:
        x = x.reshape(-1, 1) if d == 1 else x.reshape(1, -1)
    if x.shape[-1] != d:
        raise ValueError(f"multivariate_normal: x of shape {x.shape} does not end in the "
                         f"dimension {d} of mean and cov")
    return x, mean, cov, d


def _logdet(cov: Tensor, d: int) -> Tensor:
    """log det of a covariance given as a scalar, variances or a matrix (its symmetric part)."""
    if cov.ndim == 0:
        return ops.log(cov) * d
    if cov.ndim == 1:
        return ops.sum(ops.log(cov))
    return 2 * ops.sum(ops.log(ops.diagonal(cholesky(0.5 * (cov + cov.T)))))


def _squeeze(out: Tensor) -> Tensor:
    return out.reshape([n for n in out.shape if n != 1])


def _singular_logpdf(r: Tensor, cov: Tensor, d: int) -> Tensor:
    """SciPy's allow_singular log-density: eigenvalues at most cond * max|s| count as zero
    (cond = 1e6 eps in float64, 1e3 eps in float32); -inf where r leaves their span."""
    c = constant_arg("multivariate_normal.logpdf(allow_singular=True)", "cov", cov)
    c = c if c.ndim == 2 else np.diag(np.broadcast_to(c, (d,)))
    s, u = np.linalg.eigh(c)
    eps = (1e6 if c.dtype == np.float64 else 1e3) * np.finfo(c.dtype).eps * np.abs(s).max()
    if s.min() < -eps:
        raise ValueError("multivariate_normal: cov must be symmetric positive semidefinite")
    keep = s > eps
    whiten = Tensor((u[:, keep] / np.sqrt(s[keep])).astype(r.dtype))
    y = ops.matmul(r, whiten)
    logp = -0.5 * (ops.sum(y * y, axis=-1) + float(keep.sum() * 2 * _HALF_LOG_2PI
                                                    + np.log(s[keep]).sum()))
    residual = np.linalg.norm(values(r) @ u[:, ~keep], axis=-1)
    return _support(residual < 1e3 * eps, logp)


class Dirichlet(_Continuous):
    """The Dirichlet distribution with concentrations alpha (K,); x's first axis holds the K
    components (or K - 1 of them, the last being 1 - their sum), as SciPy's."""

    def logpdf(self, x: Any, alpha: Any) -> Tensor:
        """sum((alpha - 1) log x) - sum(gammaln alpha) + gammaln(sum alpha), over axis 0.

        The formula is evaluated as given (no simplex check), so derivatives in x are the
        unconstrained partials.
        """
        x, alpha = as_floats(x, alpha)
        if alpha.ndim != 1:
            raise ValueError(f"dirichlet: alpha must be one-dimensional, got shape {alpha.shape}")
        k = alpha.shape[0]
        if x.ndim == 0 or x.shape[0] not in (k, k - 1):
            raise ValueError(f"dirichlet: x of shape {x.shape} must have {k} or {k - 1} "
                             f"components on its first axis (alpha has {k})")
        if x.shape[0] == k - 1:
            x = ops.concatenate([x, 1 - ops.sum(x, axis=0, keepdims=True)], 0)
        a = alpha.reshape((k,) + (1,) * (x.ndim - 1))
        log_b = ops.sum(gammaln(alpha)) - gammaln(ops.sum(alpha))
        return ops.sum(xlogy(a - 1, x), axis=0) - log_b


norm = Norm()
t = StudentT()
gamma = Gamma()
chi2 = Chi2()
beta = Beta()
poisson = Poisson()
bernoulli = Bernoulli()
multivariate_normal = MultivariateNormal()
dirichlet = Dirichlet()

__all__ = ["bernoulli", "beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm",
           "poisson", "t"]
