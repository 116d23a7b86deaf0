"""torch.utils.data: chainrule.data's datasets, samplers, DataLoader, random_split, Subset.

``generator=`` arguments take a torch.Generator (or a NumPy generator); DataLoader workers
started by ``python -m chainrule.torch`` see 'torch' as chainrule.torch too, forked or spawned.
"""

from chainrule.data import *  # noqa: F403
from chainrule.data import __all__ as _data_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_data_all)

__getattr__ = namespace_getattr(__name__, ("chainrule.data",))
