"""Module ``__getattr__`` for each namespace: chainrule names that appear later, or an error."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class MissingError(AttributeError):
    """A PyTorch name that chainrule.torch does not provide (yet)."""


def torch_name(module: str, name: str) -> str:
    """'nn.functional.silu' for ('chainrule.torch.nn.functional', 'silu')."""
    prefix = module.removeprefix("chainrule.torch").lstrip(".")
    return f"{prefix}.{name}" if prefix else name


def missing(module: str, name: str) -> MissingError:
    """The error for a name chainrule.torch does not have."""
    return MissingError(f"chainrule.torch has no {torch_name(module, name)!r} yet")


def namespace_getattr(module: str, sources: tuple[str, ...] = (),
                      lazy: dict[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``lazy`` names ('pkg.mod:attr'), then the public names
    (``__all__``) of the chainrule ``sources``, else a MissingError that says so."""
    lazy = lazy or {}

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        if name in lazy:
            where, _, attr = lazy[name].partition(":")
            try:
                mod = importlib.import_module(where)
            except ImportError:
                mod = None
            if mod is not None and (not attr or hasattr(mod, attr)):
                return getattr(mod, attr) if attr else mod
        for src in sources:
            try:
                mod = importlib.import_module(src)
            except ImportError:
                continue
            if name in getattr(mod, "__all__", ()):
                return getattr(mod, name)
        raise missing(module, name)

    return __getattr__
