"""torch.serialization: save, load and the allowlist API of ``weights_only`` loading.

chainrule's files hold only tensors, plain data and references to Module classes the loading
program has already imported (never pickle), so every load is already "weights only": the
allowlist is recorded for compatibility and needs no entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chainrule.serialization import load, save
from chainrule.torch._missing import namespace_getattr

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "load",
           "safe_globals", "save"]

_SAFE: list[Any] = []


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Record classes and functions as allowed (chainrule's loading needs no allowlist)."""
    _SAFE.extend(safe_globals)


def get_safe_globals() -> list[Any]:
    """The recorded allowlist."""
    return list(_SAFE)


def clear_safe_globals() -> None:
    """Empty the recorded allowlist."""
    _SAFE.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list[Any]) -> Iterator[None]:
    """Allow safe_globals for the block (recorded; chainrule's loading needs no allowlist)."""
    n = len(_SAFE)
    _SAFE.extend(safe_globals)
    try:
        yield
    finally:
        del _SAFE[n:]


__getattr__ = namespace_getattr(__name__)
