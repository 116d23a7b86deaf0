"""torch.distributed: chainrule.distributed's process group and collectives, on MPI."""

from chainrule.distributed import *  # noqa: F403
from chainrule.distributed import __all__ as _dist_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_dist_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.distributed",))
