"""torch.nn.init: chainrule.nn.init's initializers; ``generator=`` also takes a torch.Generator."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from chainrule.nn import init as _init
from chainrule.torch._missing import namespace_getattr
from chainrule.torch.random import as_rng

__all__ = list(_init.__all__)


def _torch_generator(fn: Any) -> Any:
    """fn with its ``generator=`` argument mapped to the NumPy generator behind it."""
    if "generator" not in inspect.signature(fn).parameters:
        return fn

    @functools.wraps(fn)
    def wrapped(*args: Any, generator: Any = None, **kwargs: Any) -> Any:
        return fn(*args, generator=None if generator is None else as_rng(generator), **kwargs)

    return wrapped


globals().update({name: _torch_generator(getattr(_init, name)) for name in __all__})

__getattr__ = namespace_getattr(__name__, ("chainrule.nn.init",))
