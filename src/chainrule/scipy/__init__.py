"""cr.scipy: SciPy's functions that NumPy users differentiate, on chainrule ops.

``cr.scipy.special`` (logsumexp, expit, logit, erf, erfc, gammaln, digamma, xlogy, softmax...),
``cr.scipy.stats`` (norm, multivariate_normal, t, poisson, bernoulli, beta, gamma, dirichlet)
and ``cr.scipy.signal`` (convolve, correlate), differentiable in both modes to any order.
SciPy itself is not needed: the values it would supply are computed here with NumPy.
"""

from chainrule.scipy import signal, special, stats

__all__ = ["signal", "special", "stats"]
