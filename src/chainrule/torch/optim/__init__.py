"""torch.optim: chainrule.optim's optimizers (PyTorch's update rules and state dicts)."""

import importlib

from chainrule.optim import *  # noqa: F403
from chainrule.optim import __all__ as _optim_all
from chainrule.torch._missing import namespace_getattr

# Imported by name: ``from . import lr_scheduler`` would keep chainrule.optim's, from the star.
lr_scheduler = importlib.import_module("chainrule.torch.optim.lr_scheduler")

__all__ = [name for name in _optim_all if name != "lr_scheduler"] + ["lr_scheduler"]

__getattr__ = namespace_getattr(__name__, ("chainrule.optim",))
