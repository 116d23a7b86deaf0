"""torch.return_types: the named (values, indices) tuples of max, min, sort, topk, ..."""

from chainrule.ops.methods import ReturnKth as kthvalue
from chainrule.ops.methods import ReturnMax as max
from chainrule.ops.methods import ReturnMedian as median
from chainrule.ops.methods import ReturnMin as min
from chainrule.ops.methods import ReturnSort as sort
from chainrule.ops.methods import ReturnTopk as topk
from chainrule.torch._missing import namespace_getattr

__all__ = ["kthvalue", "max", "median", "min", "sort", "topk"]

__getattr__ = namespace_getattr(__name__)
