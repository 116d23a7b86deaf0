"""torch.nn.functional: chainrule.nn.functional's functions (torch's conventions already)."""

from __future__ import annotations

from chainrule.nn.functional import *  # noqa: F403
from chainrule.nn.functional import __all__ as _f_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_f_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.nn.functional",))
