"""torch.nn.utils: gradient clipping and parameter/vector conversion."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_
from chainrule.ops import shape as S
from chainrule.tensor import Tensor
from chainrule.torch._missing import namespace_getattr

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector."""
    return S.concatenate([S.reshape(p, (-1,)) for p in parameters], 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' values to consecutive slices of vec (as param.data = ...)."""
    data = vec._data if isinstance(vec, Tensor) else vec
    start = 0
    for p in parameters:
        n = p._data.size
        p.data = Tensor(data[start:start + n].reshape(p.shape).copy())
        start += n


__getattr__ = namespace_getattr(__name__, ("chainrule.nn.utils",))
