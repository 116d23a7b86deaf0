"""autograd.scipy.stats.beta -> cr.scipy.stats.beta (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.beta.rvs
    if not hasattr(stats, "beta"):
        return missing(f"cr.scipy.stats.beta.{name}")
    return lookup(stats.beta, "cr.scipy.stats.beta", name)
