"""torch.nn.modules: chainrule.nn's layers under PyTorch's module paths (``modules.linear``...).

Scripts name classes by these paths (e.g. in ``torch.serialization.safe_globals``); every
submodule holds all of chainrule.nn's layers, so each path resolves to the same class.
"""

from chainrule.nn import *  # noqa: F403
from chainrule.nn import __all__ as _nn_all
from chainrule.torch._missing import namespace_getattr

__all__ = list(_nn_all)

_SUBMODULES = ("activation", "batchnorm", "container", "conv", "distance", "dropout", "flatten",
               "fold", "instancenorm", "linear", "loss", "module", "normalization", "padding",
               "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling")

__getattr__ = namespace_getattr(
    __name__, ("chainrule.nn",),
    lazy={name: f"chainrule.torch.nn.modules.{name}" for name in _SUBMODULES})
