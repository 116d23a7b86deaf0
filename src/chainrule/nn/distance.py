"""Distances, similarities and the losses built on them (PyTorch's names, arguments, gradients).

Norms are mask-safe: where a norm is 0 its gradient is 0 (as PyTorch's), never NaN. Where PyTorch
clamps a value under no_grad (cosine_similarity's norms, gaussian_nll_loss's variance), the value
is clamped and the gradient is the unclamped one's, as there.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.autodiff import function
from chainrule.nn.loss_functions import _reduce
from chainrule.nn.module import Module
from chainrule.tensor import Tensor, as_operand

__all__ = [
    "CosineEmbeddingLoss", "CosineSimilarity", "GaussianNLLLoss", "HingeEmbeddingLoss",
    "KLDivLoss", "MarginRankingLoss", "PairwiseDistance", "PoissonNLLLoss", "SoftMarginLoss",
    "TripletMarginLoss", "cosine_embedding_loss", "cosine_similarity", "gaussian_nll_loss",
    "hinge_embedding_loss", "kl_div", "margin_ranking_loss", "one_hot", "pairwise_distance",
    "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _other(x: Tensor, other: Any) -> Any:
    """other as a Tensor, or as a constant ndarray of x's float dtype."""
    if isinstance(other, Tensor):
        return other
    a = B.asarray(other)
    return a.astype(x.dtype) if x.dtype.kind == "f" and a.dtype != x.dtype else a


def _value(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else B.asarray(x)


def _broadcast(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{name}: shapes {', '.join(map(str, shapes))} cannot be "
                         "broadcast together") from None


def _legacy(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated size_average / reduce flags, when given, override reduction (with
    PyTorch's warning)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    out = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{out}' instead.", UserWarning, stacklevel=3)
    return out


def _sqrt_safe(s: Tensor) -> Tensor:
    """sqrt(s) for s >= 0 whose gradient is 0 (not infinite) where s is 0."""
    pos = s > 0
    return ops.where(pos, ops.sqrt(ops.where(pos, s, 1.0)), 0.0)


def vector_norm(x: Tensor, p: float, dim: int, keepdim: bool = False) -> Tensor:
    """The p-norm of x along dim, with gradient 0 where the norm is 0 (PyTorch's)."""
    if p == 2:
        return _sqrt_safe(ops.sum(x * x, axis=dim, keepdims=keepdim))
    if p == 1:
        return ops.sum(ops.abs(x), axis=dim, keepdims=keepdim)
    if p == math.inf:
        return ops.max(ops.abs(x), axis=dim, keepdims=keepdim)
    if p == -math.inf:
        return ops.min(ops.abs(x), axis=dim, keepdims=keepdim)
    if p == 0:
        count = np.sum(x._data != 0, axis=dim, keepdims=keepdim).astype(x.dtype)
        return Tensor(count)
    s = ops.sum(ops.abs(x) ** float(p), axis=dim, keepdims=keepdim)
    pos = s > 0
    return ops.where(pos, ops.where(pos, s, 1.0) ** (1.0 / p), 0.0)


# ----- distances -----
def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along dim, after broadcasting."""
    x1, x2 = _t(x1), _t(x2)
    shape = _broadcast("cosine_similarity", x1.shape, x2.shape)
    if not -len(shape) <= dim < max(len(shape), 1):
        raise IndexError(f"cosine_similarity: dim {dim} is out of range for inputs of shapes "
                         f"{x1.shape} and {x2.shape}")
    x1, x2 = ops.broadcast_to(x1, shape), ops.broadcast_to(x2, shape)

    def unit(x: Tensor) -> Tensor:
        n = vector_norm(x, 2, dim, keepdim=True)
        return x / (n + (np.maximum(n._data, eps) - n._data))  # clamped value, n's gradient

    return ops.sum(unit(x1) * unit(x2), axis=dim)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last axis."""
    x1, x2 = _t(x1), _t(x2)
    _broadcast("pairwise_distance", x1.shape, x2.shape)
    return vector_norm(x1 - x2 + eps, p, max(x1.ndim, x2.ndim) - 1, keepdim)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors along a new last axis (num_classes=-1: the largest class + 1)."""
    idx = _value(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (index) tensor, got {idx.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer the number of classes from an empty tensor")
        if function.RECORDER is not None:
            function.RECORDER.unsupported("one_hot without num_classes (its shape is read from "
                                          "the values)")
        num_classes = int(idx.max()) + 1
    return function.values(partial(_one_hot, num_classes),
                           tensor if isinstance(tensor, Tensor) else idx)


def _one_hot(num_classes: int, idx: Any) -> Any:
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    if idx.size and idx.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes "
                         f"({num_classes}), got {int(idx.max())}")
    return (idx[..., None] == B.like(np.arange(num_classes), idx)).astype(np.int64)


# ----- losses -----
def kl_div(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target (log target - input) pointwise (0 where target is 0); input holds log-probabilities.

    'batchmean' divides the sum by the batch size (the KL divergence); 'mean' by the number of
    elements, with PyTorch's warning.
    """
    x = _t(input)
    legacy = size_average is not None or reduce is not None
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if reduction == "mean" and not legacy:
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    t = _other(x, target)
    if log_target:
        loss = ops.exp(t) * (t - x)
    else:
        nz = t != 0  # a Tensor mask when t is one: cr.compile replays it
        xlogy = ops.where(nz, t * ops.log(ops.where(nz, t, 1.0)), 0.0)  # 0 log 0 = 0
        loss = xlogy - t * x
    if reduction == "batchmean":
        total = ops.sum(loss)
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction, "kl_div")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0), d the pairwise p-distance (swap: the closer of
    d(a, n) and d(p, n))."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("triplet_margin_loss", reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    a, pos, neg = _t(anchor), _t(positive), _t(negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must have the "
                         f"same number of dimensions, got shapes {a.shape}, {pos.shape} and "
                         f"{neg.shape}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(ops.clip(d_pos - d_neg + margin, 0.0, None), reduction,
                     "triplet_margin_loss")


def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target (input1 - input2) + margin), target in {1, -1}."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("margin_ranking_loss", reduction)
    x1, x2 = _t(input1), _t(input2)
    t = _other(x1, target)
    if not x1.ndim == x2.ndim == t.ndim:
        raise ValueError(f"margin_ranking_loss: all inputs must have the same number of "
                         f"dimensions, got shapes input1 {x1.shape}, input2 {x2.shape}, target "
                         f"{tuple(t.shape)}")
    return _reduce(ops.clip(-t * (x1 - x2) + margin, 0.0, None), reduction,
                     "margin_ranking_loss")


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("cosine_embedding_loss", reduction)
    x1, x2 = _t(input1), _t(input2)
    tv = _value(target)
    if tv.ndim not in (0, 1):
        raise ValueError(f"cosine_embedding_loss: expected a 0-d or 1-d target, got shape "
                         f"{tv.shape}")
    want = tv.ndim + 1
    if x1.ndim != want or x2.ndim != want:
        raise ValueError(f"cosine_embedding_loss: a {tv.ndim}-d target expects {want}-d inputs, "
                         f"got shapes {x1.shape} and {x2.shape}")
    d = tv.ndim
    mag = ops.sum(x1 * x1, axis=d) + 1e-12
    mag2 = ops.sum(x2 * x2, axis=d) + 1e-12
    cos = ops.sum(x1 * x2, axis=d) / ops.sqrt(mag * mag2)
    zero = x1.dtype.type(0)
    t = _t(target)  # Tensor masks: cr.compile replays them on a new target
    loss = (ops.where(t == 1, 1.0 - cos, zero)
            + ops.where(t == -1, ops.clip(cos - margin, 0.0, None), zero))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def hinge_embedding_loss(input: Any, target: Any, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """x where target is 1, max(0, margin - x) where it is -1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("hinge_embedding_loss", reduction)
    x = _t(input)
    tv = _value(target)
    _broadcast("hinge_embedding_loss", x.shape, tv.shape)
    zero = x.dtype.type(0)
    t = _t(target)  # Tensor masks: cr.compile replays them on a new target
    loss = (ops.where(t != 1, ops.clip(margin - x, 0.0, None), zero)
            + ops.where(t != -1, x, zero))
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input: Any, target: Any, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target x)), computed stably."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("soft_margin_loss", reduction)
    x = _t(input)
    t = _other(x, target)
    _broadcast("soft_margin_loss", x.shape, tuple(t.shape))
    return _reduce(ops.softplus(-t * x), reduction, "soft_margin_loss")


def poisson_nll_loss(input: Any, target: Any, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """exp(x) - t x (log_input) or x - t log(x + eps); full adds Stirling's t log t - t +
    log(2 pi t) / 2 where t > 1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("poisson_nll_loss", reduction)
    x = _t(input)
    t = _other(x, target)
    _broadcast("poisson_nll_loss", x.shape, tuple(t.shape))
    loss = ops.exp(x) - t * x if log_input else x - t * ops.log(x + eps)
    if full:
        big = t > 1
        ts = ops.where(big, t, 2.0) if isinstance(t, Tensor) else np.where(big, t, 2.0)
        stirling = ts * ops.log(ts) - ts + 0.5 * ops.log(ts * (2 * math.pi))
        loss = loss + ops.where(big, stirling, x.dtype.type(0))
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """(log max(var, eps) + (input - target)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 if full).

    var is a number, input's shape, or input's shape with one axis of size 1 (or the last
    axis dropped): one variance shared along it.
    """
    x = _t(input)
    t = _other(x, target)
    if isinstance(var, int | float) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var has a negative entry ({var})")
        v: Any = np.full_like(x._data, var)
    else:
        v = _other(x, var)
        if (_value(v) < 0).any():
            raise ValueError("gaussian_nll_loss: var has negative entries")
    vshape = tuple(v.shape)
    if vshape != x.shape:
        if x.shape[:-1] == vshape:
            v = ops.unsqueeze(v, -1) if isinstance(v, Tensor) else v[..., None]
        elif not (len(vshape) == x.ndim and sum(
                b for a, b in zip(x.shape, vshape) if a != b) == 1):
            raise ValueError(f"gaussian_nll_loss: var of shape {vshape} does not fit input of "
                             f"shape {x.shape}")
    _check_reduction("gaussian_nll_loss", reduction)
    if isinstance(v, Tensor):  # clamped, with var's gradient (a constant shift); ops, so
        vv = v.detach()  # that cr.compile replays the shift on a new var
        v = v + (ops.maximum(vv, eps) - vv)
    else:
        v = v + (np.maximum(v, eps) - v).astype(v.dtype, copy=False)
    d = x - t
    loss = 0.5 * (ops.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


# ----- modules -----
class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along dim."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last axis."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class _Loss(Module):
    """A loss with a reduction and PyTorch's deprecated size_average / reduce flags."""

    _reductions: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        reduction = _legacy(size_average, reduce, reduction)
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{self._reductions}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class KLDivLoss(_Loss):
    """KL divergence of target from input (input holds log-probabilities)."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class TripletMarginLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0) with the pairwise p-distance d."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                   self.swap, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -target (input1 - input2) + margin)."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return margin_ranking_loss(input1, input2, target, self.margin,
                                   reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos where target is 1, max(0, cos - margin) where it is -1."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where target is 1, max(0, margin - x) where it is -1."""

    def __init__(self, margin: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-target x))."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return soft_margin_loss(input, target, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of target given a rate (or its log)."""

    def __init__(self, log_input: bool = True, full: bool = False,
                 size_average: bool | None = None, eps: float = 1e-8,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        return poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of target given a mean and a variance."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
