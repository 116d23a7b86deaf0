"""torch.optim.lr_scheduler: chainrule.optim.lr_scheduler's schedulers."""

from chainrule.optim.lr_scheduler import *  # noqa: F403
from chainrule.optim.lr_scheduler import __all__ as _sched_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_sched_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.optim.lr_scheduler",))
