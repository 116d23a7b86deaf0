"""torch.xpu: no Intel GPU is available to chainrule."""

from __future__ import annotations

from chainrule.torch._missing import namespace_getattr

__all__ = ["device_count", "is_available"]


def is_available() -> bool:
    """False."""
    return False


def device_count() -> int:
    """0."""
    return 0


__getattr__ = namespace_getattr(__name__)
