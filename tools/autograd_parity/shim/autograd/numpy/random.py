"""autograd.numpy.random is NumPy's random module (it draws data, it has no derivatives)."""

from typing import Any

import numpy as onp


def __getattr__(name: str) -> Any:
    return getattr(onp.random, name)
