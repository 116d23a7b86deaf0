"""torch.nn: chainrule.nn's modules, plus torch's submodule layout (functional, init, utils,
parallel, parameter). Names chainrule.nn adds later appear here on their own."""

import importlib as _importlib

from chainrule.nn import *  # noqa: F403
from chainrule.nn import Module, Parameter
from chainrule.nn import __all__ as _nn_all
from chainrule.torch._missing import namespace_getattr

# Imported by name: ``from . import init`` would keep the chainrule.nn.init the star brought.
functional, init, parallel, parameter, utils = (
    _importlib.import_module(f"chainrule.torch.nn.{name}")
    for name in ("functional", "init", "parallel", "parameter", "utils"))

__all__ = [name for name in _nn_all if name not in ("functional", "init", "utils")]
__all__ += ["Module", "Parameter", "functional", "init", "parallel", "parameter", "utils"]

__getattr__ = namespace_getattr(__name__, ("chainrule.nn",),
                                lazy={"modules": "chainrule.torch.nn.modules"})
