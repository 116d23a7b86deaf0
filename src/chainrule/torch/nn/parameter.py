"""torch.nn.parameter: Parameter."""

from chainrule.nn.module import Parameter
from chainrule.torch._missing import namespace_getattr

__all__ = ["Parameter"]

__getattr__ = namespace_getattr(__name__)
