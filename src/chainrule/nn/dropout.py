"""Dropout, as functions and layers: inverted dropout of elements or of whole channels while
training, the identity in eval. Masks come from ``rng`` when given, else from chainrule's global
generator. (nn.functional re-exports the functions.)"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import creation
from chainrule.nn.module import Module
from chainrule.tensor import Tensor, as_operand

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "dropout", "dropout1d",
           "dropout2d", "dropout3d"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _check_p(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability has to be between 0 and 1, but got {p}")


def _masked(x: Tensor, p: float, training: bool, shape: tuple[int, ...],
            rng: np.random.Generator | None) -> Tensor:
    """x times a keep mask of shape (broadcast to x) scaled by 1/(1-p); x itself if no-op."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros_like(x._data)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    gen = rng if rng is not None else creation.default_rng()
    return x * keep_mask(gen, shape, p, dtype)


def keep_mask(gen: np.random.Generator, shape: tuple[int, ...], p: float,
              dtype: np.dtype) -> np.ndarray:
    """1/(1-p) where a uniform draw from gen is >= p, else 0 (cr.compile replays this call)."""
    keep = gen.random(shape, dtype=dtype.type) >= p
    return keep * dtype.type(1.0 / (1.0 - p))


def dropout(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
    _check_p("dropout", p)
    x = _t(x)
    return _masked(x, p, training, x.shape, rng)


def _feature_dropout(name: str, x: Tensor, p: float, training: bool,
                     rng: np.random.Generator | None, batched: bool) -> Tensor:
    """Zero whole channels: one draw per (N, C), or per C when not batched, as PyTorch's
    feature_dropout; x is (N, C, *S), or (C, *S) when not batched."""
    _check_p(name, p)
    lead = 2 if batched else 1
    if x.ndim < lead:
        raise ValueError(f"{name}: feature dropout needs at least 2 dimensions (N, C, ...), got "
                         f"input of shape {x.shape}")
    return _masked(x, p, training, x.shape[:lead] + (1,) * (x.ndim - lead), rng)


def _warn_rank(name: str, ndim: int) -> None:
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will "
                  "result in an error in a future release. To retain the behavior and silence "
                  "this warning, please use dropout instead.", UserWarning, stacklevel=3)


def dropout1d(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              rng: np.random.Generator | None = None) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scale the rest 1/(1-p)."""
    x = _t(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D or 3-D input ((N,) C, L), got input of "
                         f"shape {x.shape}")
    return _feature_dropout("dropout1d", x, p, training, rng, x.ndim == 3)


def dropout2d(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              rng: np.random.Generator | None = None) -> Tensor:
    """Zero whole channels of (N, C, H, W) with probability p, scale the rest by 1/(1-p).

    As PyTorch 2.x: a 3-D input is taken as (N, C, L) (channel-wise 1-d dropout, with
    PyTorch's warning), not as an unbatched (C, H, W); other ranks warn and use axes 0, 1.
    """
    x = _t(x)
    if x.ndim not in (3, 4):
        _warn_rank("dropout2d", x.ndim)
    if x.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d "
                      "instead.", UserWarning, stacklevel=2)
    return _feature_dropout("dropout2d", x, p, training, rng, True)


def dropout3d(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              rng: np.random.Generator | None = None) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p, scale the
    rest by 1/(1-p); other ranks warn, as PyTorch, and are taken as unbatched."""
    x = _t(x)
    if x.ndim not in (4, 5):
        _warn_rank("dropout3d", x.ndim)
    return _feature_dropout("dropout3d", x, p, training, rng, x.ndim == 5)


class _DropoutNd(Module):
    """Holds p and inplace (as PyTorch) and the optional generator ``rng``."""

    _fn: Any = staticmethod(dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        _check_p(type(self).__name__, p)
        self.p = p
        self.inplace = inplace
        self.rng = rng

    def forward(self, x: Tensor) -> Tensor:
        return self._fn(x, self.p, self.training, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training."""


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scale the rest 1/(1-p)."""

    _fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) with probability p, scale the rest by 1/(1-p).

    A 3-D input is taken as (N, C, L) with a warning, as PyTorch does.
    """

    _fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W), scale the rest by 1/(1-p)."""

    _fn = staticmethod(dropout3d)
