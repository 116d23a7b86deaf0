"""autograd.scipy.stats.multivariate_normal -> cr.scipy.stats.multivariate_normal (rvs: SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.multivariate_normal.rvs
    if not hasattr(stats, "multivariate_normal"):
        return missing(f"cr.scipy.stats.multivariate_normal.{name}")
    return lookup(stats.multivariate_normal, "cr.scipy.stats.multivariate_normal", name)
