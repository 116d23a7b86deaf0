"""autograd.builtins: its container constructors are Python's (chainrule's transforms take
Python containers as pytrees); the rest (SequenceBox, container vspaces) is out of scope."""

import builtins as _builtins
from typing import Any

from autograd._shim import out_of_scope

dict, isinstance, list, tuple, type = (
    _builtins.dict,
    _builtins.isinstance,
    _builtins.list,
    _builtins.tuple,
    _builtins.type,
)

__all__ = ["dict", "isinstance", "list", "tuple", "type"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return out_of_scope(f"autograd.builtins.{name}", "autograd's container internals")
