"""torch.cuda: chainrule has no CUDA devices; queries answer so, uses are clear errors."""

from __future__ import annotations

from typing import Any

from chainrule.device import as_device
from chainrule.torch._missing import namespace_getattr

__all__ = ["current_device", "device_count", "empty_cache", "get_device_name", "is_available",
           "is_initialized", "manual_seed", "manual_seed_all", "set_device", "synchronize"]


def is_available() -> bool:
    """False: chainrule computes on the CPU only."""
    return False


def is_initialized() -> bool:
    """False."""
    return False


def device_count() -> int:
    """0."""
    return 0


def _no_cuda(op: str) -> Any:
    return as_device("cuda", f"torch.cuda.{op}")


def current_device() -> int:
    """No CUDA device: an error."""
    _no_cuda("current_device")
    return 0


def set_device(device: Any) -> None:
    """No CUDA device: an error."""
    _no_cuda("set_device")


def get_device_name(device: Any = None) -> str:
    """No CUDA device: an error."""
    _no_cuda("get_device_name")
    return ""


def synchronize(device: Any = None) -> None:
    """No CUDA device: an error."""
    _no_cuda("synchronize")


def manual_seed(seed: int) -> None:
    """Nothing to seed (PyTorch too ignores it while CUDA is unavailable)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed (PyTorch too ignores it while CUDA is unavailable)."""


def empty_cache() -> None:
    """Nothing cached (PyTorch's is a no-op without CUDA too)."""


__getattr__ = namespace_getattr(__name__)
