"""torch.backends: ``cudnn`` flags and ``mps`` queries (neither backend exists in chainrule)."""

from chainrule.torch._missing import namespace_getattr
from chainrule.torch.backends import cudnn, mps

__all__ = ["cudnn", "mps"]

__getattr__ = namespace_getattr(__name__)
