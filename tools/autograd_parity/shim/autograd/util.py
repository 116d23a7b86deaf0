"""autograd.util: func is used by tests; the rest is out of scope."""

from typing import Any

from autograd._shim import out_of_scope


def func(f: Any) -> Any:
    return f


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return out_of_scope(f"autograd.util.{name}", "autograd's internals")
