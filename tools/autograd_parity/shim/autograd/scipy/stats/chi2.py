"""autograd.scipy.stats.chi2 -> cr.scipy.stats.chi2 (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.chi2.rvs
    if not hasattr(stats, "chi2"):
        return missing(f"cr.scipy.stats.chi2.{name}")
    return lookup(stats.chi2, "cr.scipy.stats.chi2", name)
