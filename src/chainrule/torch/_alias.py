"""Make ``import torch`` (and any ``import torch.X``) give chainrule.torch, for this process."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

SHIM = os.path.join(os.path.dirname(__file__), "_shim")
# Aliases set eagerly: the modules a PyTorch script imports most.
EAGER = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim",
         "torch.optim.lr_scheduler", "torch.utils", "torch.utils.data", "torch.autograd")


def target(fullname: str) -> str:
    """chainrule's module for a torch module name: 'torch.nn' -> 'chainrule.torch.nn'."""
    return "chainrule." + fullname


class _AliasLoader(importlib.abc.Loader):
    """Hands back the already imported chainrule module, keeping its own __spec__."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system set the alias's spec; keep the real one


class TorchFinder(importlib.abc.MetaPathFinder):
    """Finds 'torch' and 'torch.X...' as 'chainrule.torch' and 'chainrule.torch.X...'."""

    def find_spec(self, fullname: str, path: Any = None,
                  target_module: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        name = target(fullname)
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            raise ModuleNotFoundError(
                f"chainrule.torch has no module {fullname!r} yet (running a PyTorch script on "
                f"chainrule: there is no {name!r})", name=fullname)
        module = importlib.import_module(name)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module),
                                              is_package=hasattr(module, "__path__"))


def install() -> None:
    """Alias torch's module names to chainrule.torch's in this process and its spawned children.

    Forked workers inherit ``sys.modules`` and the finder; spawned ones get this process's
    ``sys.path``, whose first entry then holds a 'torch' stand-in that calls ``install`` again.
    """
    if not any(isinstance(f, TorchFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchFinder())
    for name in EAGER:
        sys.modules[name] = importlib.import_module(target(name))
    if SHIM not in sys.path:
        sys.path.insert(0, SHIM)
