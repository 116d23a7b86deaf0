"""``cr.compile``: record a training step once, replay its rule calls without Tensors or graph.

Nothing below this package imports it; the engine only reports to ``function.RECORDER``.
"""

import sys
import types
from typing import Any

from chainrule.compile.compiled import Compiled, CompileWarning, compile

__all__ = ["CompileWarning", "Compiled", "compile"]


class _CallableModule(types.ModuleType):
    """This package, callable as ``cr.compile(fn)`` when it was imported before the function."""

    def __call__(self, fn: Any = None, **kwargs: Any) -> Any:
        return compile(fn, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
