"""torch.utils.data.dataloader: the names torch keeps there, from chainrule.data."""

from chainrule.data import *  # noqa: F403
from chainrule.data import __all__ as _data_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_data_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.data", "chainrule.data.loader"))
