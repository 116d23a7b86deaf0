"""cr.scipy: SciPy's functions that NumPy users differentiate, on chainrule ops.

``cr.scipy.special`` (logsumexp, expit, logit, erf, erfc, gamma, gammaln, digamma, betainc,
gammainc, erfinv, Bessel functions, xlogy, softmax...), ``cr.scipy.stats`` (norm,
multivariate_normal, t, chi2, poisson, bernoulli, beta, gamma, dirichlet), ``cr.scipy.signal``
(convolve, correlate), ``cr.scipy.linalg`` (sqrtm, solve_sylvester, solve_triangular,
solve_banded) and ``cr.scipy.integrate`` (odeint), differentiable in both modes.
Most values are computed here with NumPy; the functions NumPy cannot supply (incomplete gamma
and beta, erfinv, Bessel functions, sqrtm, the Sylvester solve, odeint) import SciPy on their
first call, so ``import chainrule`` never needs it.
"""

from chainrule.scipy import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
