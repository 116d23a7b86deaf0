"""autograd.numpy.fft -> cr.fft."""

from typing import Any

import chainrule as cr
from autograd._shim import lookup


def __getattr__(name: str) -> Any:
    return lookup(cr.fft, "cr.fft", name)
