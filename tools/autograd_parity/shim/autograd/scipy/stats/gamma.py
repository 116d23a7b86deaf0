"""autograd.scipy.stats.gamma -> cr.scipy.stats.gamma (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.gamma.rvs
    if not hasattr(stats, "gamma"):
        return missing(f"cr.scipy.stats.gamma.{name}")
    return lookup(stats.gamma, "cr.scipy.stats.gamma", name)
