"""autograd.tracer: primitive is autograd.extend's (on cr.Function); the rest is internals."""

from typing import Any

from autograd._shim import out_of_scope
from autograd.extend import primitive

__all__ = ["primitive"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return out_of_scope(f"autograd.tracer.{name}", "autograd's internals and container types")
