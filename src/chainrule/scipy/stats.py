"""cr.scipy.stats: SciPy's densities, differentiable in their continuous arguments.

Each distribution is an object with SciPy's method names and arguments (``norm.logpdf(x, loc,
scale)``), built from chainrule ops and ``cr.scipy.special``, so derivatives of any order flow
to x, loc, scale and the shape parameters (df, a, b, mu, p, mean, cov, alpha) in both modes.
Outside a distribution's support the log-density is -inf with derivative 0, as SciPy's value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.linalg import cholesky, solve_triangular
from chainrule.scipy._util import as_floats, values
from chainrule.scipy.special import betaln, gammaln, log_ndtr, ndtr, xlog1py, xlogy
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


class Beta(_Continuous):
    """The beta distribution with shapes a, b, on loc <= x <= loc + scale."""

    def logpdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
        """(a-1) log z + (b-1) log(1 - z) - betaln(a, b) - log scale for 0 <= z <= 1."""
        z, scale, a, b = _standardize(x, loc, scale, a, b)
        logp = xlogy(a - 1, z) + xlog1py(b - 1, -z) - betaln(a, b) - ops.log(scale)
        zv = values(z)
        return _support((zv >= 0) & (zv <= 1), logp)


class Poisson(_Discrete):
    """The Poisson distribution with mean mu (differentiable in mu)."""

    def logpmf(self, k: Any, mu: Any, loc: Any = 0) -> Tensor:
        """k log mu - mu - gammaln(k + 1) for whole k >= 0 (k = k - loc), else -inf."""
        k, mu, loc = as_floats(k, mu, loc)
        k = k - loc
        kv = values(k)
        logp = xlogy(k, mu) - mu - gammaln(k + 1)
        return _support((kv >= 0) & (kv == np.floor(kv)), logp)


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
        its length-1 axes squeezed.
        """
        if allow_singular:
            raise NotImplementedError("multivariate_normal: allow_singular=True is not supported")
        x, mean, cov = as_floats(x, 0.0 if mean is None else mean, cov)
        d = mean.size if mean.ndim else (cov.shape[0] if cov.ndim else 1)
        if x.ndim == 0:
            x = x.reshape(1)
        if x.ndim == 1:
            x = x.reshape(-1, 1) if d == 1 else x.reshape(1, -1)
        if x.shape[-1] != d:
            raise ValueError(f"multivariate_normal: x of shape {x.shape} does not end in the "
                             f"dimension {d} of mean and cov")
        r = x - mean
        if cov.ndim < 2:  # isotropic or diagonal: no factorization
            quad = ops.sum(r * r / cov, axis=-1)
            logdet = ops.log(cov) * d if cov.ndim == 0 else ops.sum(ops.log(cov))
        else:
            chol = cholesky(0.5 * (cov + cov.T))
            lead = r.shape[:-1]
            y = solve_triangular(chol, r.reshape(-1, d).T, lower=True)
            quad = ops.sum(y * y, axis=0).reshape(lead)
            logdet = 2 * ops.sum(ops.log(ops.diagonal(chol)))
        out = -0.5 * (quad + logdet) - d * _HALF_LOG_2PI
        return out.reshape([n for n in out.shape if n != 1])


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
beta = Beta()
poisson = Poisson()
bernoulli = Bernoulli()
multivariate_normal = MultivariateNormal()
dirichlet = Dirichlet()

__all__ = ["bernoulli", "beta", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson",
           "t"]
