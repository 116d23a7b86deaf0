"""torch.accelerator: none is available to chainrule (the CPU is not an accelerator)."""

from __future__ import annotations

from typing import Any

from chainrule.torch._missing import namespace_getattr

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """False."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """None: no accelerator."""
    return None


def device_count() -> int:
    """0."""
    return 0


__getattr__ = namespace_getattr(__name__)
