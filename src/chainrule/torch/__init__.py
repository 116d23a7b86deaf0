"""chainrule.torch: PyTorch's namespace over chainrule's objects, with torch's semantics.

``import chainrule.torch as torch`` (with ``torch.nn``, ``torch.nn.functional``, ``torch.optim``,
``torch.utils.data``, ``torch.autograd``, ...), or ``python -m chainrule.torch script.py`` to run
an unchanged PyTorch script. The Tensors, Modules and optimizers are chainrule's own; this
package only maps names and arguments. A name chainrule does not have raises AttributeError
("chainrule.torch has no 'X' yet"), never a substitute.
"""

from __future__ import annotations

import math as _math
from typing import Any

import chainrule as _cr
from chainrule.device import device
from chainrule.tensor import Size
from chainrule.torch import _dtypes
from chainrule.torch._dtypes import *  # noqa: F403
from chainrule.torch._dtypes import (
    DTYPE_NAMES,
    finfo,
    get_default_dtype,
    iinfo,
    is_complex,
    is_floating_point,
    promote_types,
    set_default_dtype,
)
from chainrule.torch._factories import *  # noqa: F403
from chainrule.torch._factories import __all__ as _factories_all
from chainrule.torch._functions import *  # noqa: F403
from chainrule.torch._functions import __all__ as _functions_all
from chainrule.torch._grad_mode import *  # noqa: F403
from chainrule.torch._grad_mode import __all__ as _grad_mode_all
from chainrule.torch._legacy import Tensor, sparse_coo_tensor, spmm
from chainrule.torch._missing import namespace_getattr
from chainrule.torch.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__version__ = f"{_cr.__version__}+chainrule"

inf, nan, pi, e = _math.inf, _math.nan, _math.pi, _math.e

__all__ = [
    *DTYPE_NAMES, *_factories_all, *_functions_all, *_grad_mode_all, "Generator", "Size", "Tensor",
    "are_deterministic_algorithms_enabled", "default_generator", "device", "e", "finfo",
    "get_default_dtype", "get_num_threads", "get_rng_state", "iinfo", "inf", "initial_seed",
    "is_complex", "is_floating_point", "load", "manual_seed", "nan", "pi", "promote_types",
    "save", "seed", "set_default_dtype", "set_num_threads", "set_rng_state", "sparse_coo_tensor",
    "spmm", "use_deterministic_algorithms",
]

_num_threads = 1
_deterministic = False


def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    """Save tensors, state dicts and whole Modules (safetensors, never pickle)."""
    from chainrule.serialization import save as _save

    _save(obj, f, *args, **kwargs)


def load(f: Any, map_location: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Load what save wrote (map_location may name only the CPU)."""
    from chainrule.serialization import load as _load

    return _load(f, map_location, *args, **kwargs)


def set_num_threads(n: int) -> None:
    """Record a thread count (a hint: NumPy's BLAS sets its own threads; results are equal)."""
    global _num_threads
    _num_threads = int(n)


def get_num_threads() -> int:
    """The thread count last set with set_num_threads."""
    return _num_threads


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the flag (chainrule's CPU kernels are deterministic either way)."""
    global _deterministic
    _deterministic = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """The flag set by use_deterministic_algorithms."""
    return _deterministic


def _wrap_out() -> None:
    """Give every function that takes ``out=`` torch's behaviour for it."""
    from chainrule.torch._out import supports_out, takes_out

    g = globals()
    for name in __all__:
        fn = g.get(name)
        if callable(fn) and not isinstance(fn, type) and takes_out(fn):
            g[name] = supports_out(fn)


_wrap_out()

_SUBMODULES = ("accelerator", "autograd", "backends", "cuda", "distributed", "mps",
               "multiprocessing", "nn", "onnx", "optim", "random", "return_types",
               "serialization", "sparse", "utils", "xpu")

__getattr__ = namespace_getattr(
    __name__, lazy={name: f"chainrule.torch.{name}" for name in _SUBMODULES})

del _dtypes
