"""torch.backends.mps: Apple's Metal backend is not available to chainrule."""

from __future__ import annotations

from chainrule.torch._missing import namespace_getattr

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False."""
    return False


def is_built() -> bool:
    """False."""
    return False


__getattr__ = namespace_getattr(__name__)
