"""torch.nn.modules.batchnorm: chainrule.nn's layers under PyTorch's module path."""

from chainrule.nn import *  # noqa: F403
from chainrule.nn import __all__ as _nn_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_nn_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.nn",))
