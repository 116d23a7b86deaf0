"""torch.nn.modules.linear: chainrule.nn's layers under PyTorch's module path."""

from chainrule.nn import *  # noqa: F403
from chainrule.nn import Linear
from chainrule.nn import __all__ as _nn_all
from chainrule.torch._missing import namespace_getattr


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's Linear subclass used inside MultiheadAttention (a plain Linear here)."""


__all__ = [*_nn_all, "NonDynamicallyQuantizableLinear"]

__getattr__ = namespace_getattr(__name__, ("chainrule.nn",))
