"""autograd.scipy.stats.poisson -> cr.scipy.stats.poisson (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.poisson.rvs
    if not hasattr(stats, "poisson"):
        return missing(f"cr.scipy.stats.poisson.{name}")
    return lookup(stats.poisson, "cr.scipy.stats.poisson", name)
