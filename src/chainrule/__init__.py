"""chainrule: a deep-learning framework on NumPy with reverse- and forward-mode autodiff."""

from chainrule.tensor import Size, Tensor  # isort: skip  (defines Tensor before the ops load)
from chainrule.autodiff.function import Context, Function
from chainrule.autodiff.gradcheck import GradcheckError, gradcheck, numerical_jacobian
from chainrule.autodiff.inspect import evaluation_trace, to_dot
from chainrule.autodiff.modes import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autodiff.transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from chainrule.autodiff.tree import tree_flatten, tree_map, tree_unflatten
from chainrule.creation import (
    Generator,
    arange,
    array,
    as_tensor,
    asarray,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    logspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.device import device, get_default_device, set_default_device
from chainrule.dtypes import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
)
from chainrule.ops import *  # noqa: F403
from chainrule.ops import __all__ as _ops_all

__version__ = "0.1.0"

__all__ = [
    "Context", "Function", "Generator", "GradcheckError", "Size", "Tensor", "arange", "array",
    "as_tensor", "asarray", "bool_", "detect_anomaly", "device", "empty", "empty_like", "full_like",
    "enable_grad", "eye", "float16", "float32", "float64", "full",
    "get_default_dtype", "grad", "gradcheck", "hessian", "identity", "int32", "int64",
    "is_grad_enabled", "jacobian", "jvp", "linspace", "logspace", "manual_seed", "no_grad",
    "numerical_jacobian", "ones",
    "ones_like", "rand", "randint", "randn", "set_default_dtype", "set_grad_enabled", "tensor",
    "value_and_grad", "vjp", "zeros", "zeros_like", *_ops_all,
    "get_default_device", "set_default_device",
    "evaluation_trace", "to_dot", "tree_flatten", "tree_map", "tree_unflatten",
]

_SUBMODULES = ("cuda", "data", "datasets", "distributed", "fft", "linalg", "models", "nn", "onnx",
               "optim", "scipy", "training")


def __getattr__(name: str) -> object:
    """Load the heavier subpackages on first use, so that `import chainrule` stays light."""
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module("chainrule.serialization"), name)
    if name in ("compile", "CompileWarning"):
        # cr.compile is the package itself, callable (cr.compile(fn)), so that it is the same
        # object whatever was imported first and cr.compile.Compiled is always there
        package = importlib.import_module("chainrule.compile")
        value = package if name == "compile" else package.CompileWarning
        globals()[name] = value
        return value
    if name == "draw_graph":  # matplotlib loads only when a graph is drawn without Graphviz
        return importlib.import_module("chainrule.autodiff.draw").draw_graph
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
