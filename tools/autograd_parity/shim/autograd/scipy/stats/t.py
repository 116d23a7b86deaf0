"""autograd.scipy.stats.t -> cr.scipy.stats.t (rvs, a sampler, is SciPy's)."""

from typing import Any

import scipy.stats

import chainrule.scipy.stats as stats
from autograd._shim import lookup, missing


def __getattr__(name: str) -> Any:
    if name == "rvs":
        return scipy.stats.t.rvs
    if not hasattr(stats, "t"):
        return missing(f"cr.scipy.stats.t.{name}")
    return lookup(stats.t, "cr.scipy.stats.t", name)
