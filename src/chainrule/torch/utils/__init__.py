"""torch.utils: ``data`` (datasets, samplers, DataLoader)."""

from chainrule.torch._missing import namespace_getattr
from chainrule.torch.utils import data

__all__ = ["data"]

__getattr__ = namespace_getattr(__name__)
