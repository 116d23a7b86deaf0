"""torch.backends.cudnn: the flags scripts set; they have no effect (there is no cuDNN)."""

from __future__ import annotations

from chainrule.torch._missing import namespace_getattr

__all__ = ["allow_tf32", "benchmark", "deterministic", "enabled", "is_available", "version"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False."""
    return False


def version() -> None:
    """None: no cuDNN."""
    return None


__getattr__ = namespace_getattr(__name__)
