"""autograd.scipy.stats.dirichlet -> cr.scipy.stats.dirichlet (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.dirichlet.rvs
    if not hasattr(stats, "dirichlet"):
        return missing(f"cr.scipy.stats.dirichlet.{name}")
    return lookup(stats.dirichlet, "cr.scipy.stats.dirichlet", name)
