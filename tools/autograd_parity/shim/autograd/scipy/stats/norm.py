"""autograd.scipy.stats.norm -> cr.scipy.stats.norm (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.norm.rvs
    if not hasattr(stats, "norm"):
        return missing(f"cr.scipy.stats.norm.{name}")
    return lookup(stats.norm, "cr.scipy.stats.norm", name)
