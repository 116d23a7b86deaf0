"""autograd.misc: flatten (the shim's own) and optimizers (autograd's file, from the sdist)."""

from autograd._shim import out_of_scope
from autograd.misc.flatten import flatten

const_graph = out_of_scope("autograd.misc.const_graph", "autograd's tracer internals")

__all__ = ["const_graph", "flatten"]
