"""Multi-label losses: MultiLabelSoftMarginLoss and MultiLabelMarginLoss (PyTorch's arguments,
values and gradients), built from chainrule's ops; the targets' masks go through
``function.values`` so cr.compile recomputes them for each new target."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.autodiff import function
from chainrule.nn.distance import _broadcast, _check_reduction, _legacy, _Loss, _other, _t
from chainrule.nn.loss_functions import _reduce
from chainrule.nn.pointwise import logsigmoid
from chainrule.tensor import Tensor, as_operand

__all__ = ["MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "multilabel_margin_loss",
           "multilabel_soft_margin_loss"]


def multilabel_soft_margin_loss(input: Any, target: Any, weight: Any = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Per sample, the mean over classes (the last axis) of
    -w (t log sigmoid(x) + (1 - t) log sigmoid(-x)); then reduced over samples."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("multilabel_soft_margin_loss", reduction)
    x = _t(input)
    if x.ndim == 0:
        raise ValueError("multilabel_soft_margin_loss: input must have a class axis, got a 0-d "
                         "input")
    t = _other(x, target)
    _broadcast("multilabel_soft_margin_loss", x.shape, tuple(t.shape))
    loss = -(t * logsigmoid(x) + (1 - t) * logsigmoid(-x))
    if weight is not None:
        loss = loss * _other(x, weight)
    per = ops.sum(loss, axis=-1) / x.shape[-1]
    return _reduce(per, reduction, "multilabel_soft_margin_loss")


def _margin_masks(dtype: Any, y: np.ndarray) -> np.ndarray:
    """(N, J, C) coefficients 1/C where j is before the row's first -1 and class c is none of
    those targets, else 0; and (N, J, C) one-hot rows of the targets, stacked on axis 0."""
    c = y.shape[1]
    valid = np.cumprod(y != -1, axis=1).astype(bool)  # before the first -1
    onehot = (B.like(np.arange(c), y) == np.where(valid, y, -1)[..., None])  # (N, J, C)
    is_target = onehot.any(axis=1)  # (N, C)
    coef = (valid[:, :, None] & ~is_target[:, None, :]).astype(dtype) * (1.0 / c)
    return np.stack([coef, onehot.astype(dtype)])


def _check_targets(c: int, y: Any) -> None:
    y = y._data if isinstance(y, Tensor) else y  # a replay may pass the array
    if y.size and (y.min() < -1 or y.max() >= c):
        bad = y[(y < -1) | (y >= c)].flat[0]
        raise IndexError(f"multilabel_margin_loss: target {int(bad)} is out of range for {c} "
                         "classes (targets are class indices, or -1 to end a row's list)")


def multilabel_margin_loss(input: Any, target: Any, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Per sample, sum over its targets j (the classes listed before the first -1) and the
    classes i not among them of max(0, 1 - (x[j] - x[i])), divided by the number of classes;
    then reduced over samples (1-D input: one sample, 0-d result)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("multilabel_margin_loss", reduction)
    x = _t(input)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"multilabel_margin_loss: expected a non-empty vector or matrix "
                         f"(N, C), got shape {x.shape}")
    t = target if isinstance(target, Tensor) else as_operand(B.asarray(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"multilabel_margin_loss: target must hold integer class indices, got "
                        f"{t.dtype}")
    if tuple(t.shape) != x.shape:
        raise ValueError(f"multilabel_margin_loss: target of shape {tuple(t.shape)} does not "
                         f"match input of shape {x.shape}")
    c = x.shape[-1]
    function.library_call(partial(_check_targets, c), t)  # on each cr.compile replay too
    x2 = x if x.ndim == 2 else ops.reshape(x, (1, c))
    t2 = t if t.ndim == 2 else ops.reshape(t, (1, c))
    masks = function.values(partial(_margin_masks, x.dtype), t2)  # (2, N, J, C)
    coef, onehot = masks[0], masks[1]
    x_target = ops.sum(onehot * ops.expand_dims(x2, 1), axis=-1, keepdims=True)  # (N, J, 1)
    hinge = ops.relu(1.0 - x_target + ops.expand_dims(x2, 1))  # (N, J, C)
    per = ops.sum(hinge * coef, axis=(1, 2))
    if x.ndim == 1:
        per = ops.reshape(per, ())
    return _reduce(per, reduction, "multilabel_margin_loss")


class MultiLabelSoftMarginLoss(_Loss):
    """Multi-label one-versus-all loss on logits; weight (per class) is the buffer 'weight'."""

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return multilabel_soft_margin_loss(input, target, self.weight,
                                           reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-class multi-label hinge loss on class-index targets ended by -1."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return multilabel_margin_loss(input, target, reduction=self.reduction)
