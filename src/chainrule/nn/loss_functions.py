"""The losses of chainrule.nn.functional (PyTorch's names and reductions): regression, the
cross-entropies and margins; the distance-based ones are in nn/distance.py."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff import function
from chainrule.autodiff.function import values
from chainrule.backend import asarray, like, zeros
from chainrule.dtypes import as_array
from chainrule.ops.nn import cross_entropy_q
from chainrule.tensor import Tensor, as_operand

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _value(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else asarray(x)


def _reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    """mean, sum or none of the per-element losses."""
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_reduction(reduction: str, name: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _pair(name: str, x: Any, target: Any) -> tuple[Tensor, Any]:
    """input as a Tensor and target as a Tensor or an ndarray of its dtype, shapes equal."""
    x = _t(x)
    if not isinstance(target, Tensor):
        target = as_array(target, x.dtype if not isinstance(target, np.ndarray) else None)
    if tuple(target.shape) != x.shape:
        raise ValueError(f"{name}: target of shape {tuple(target.shape)} does not match input "
                         f"of shape {x.shape}")
    return x, target


def mse_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(x - target)^2, reduced."""
    x, target = _pair("mse_loss", x, target)
    d = x - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|x - target|, reduced."""
    x, target = _pair("l1_loss", x, target)
    return _reduce(ops.abs(x - target), reduction, "l1_loss")


def huber_loss(x: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = x - target."""
    x, target = _pair("huber_loss", x, target)
    d = x - target
    ad = ops.abs(d)
    loss = ops.where(ad < delta, 0.5 * (d * d), delta * (ad - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(x: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; d = x - target (beta=0: L1)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, target = _pair("smooth_l1_loss", x, target)
    d = x - target
    ad = ops.abs(d)
    if beta == 0:
        return _reduce(ad, reduction, "smooth_l1_loss")
    loss = ops.where(ad < beta, (0.5 / beta) * (d * d), ad - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def euclidean_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Per sample 0.5 ||x_n - target_n||^2 over all axes but the first (the sample axis).

    Reduced over samples: 'mean' averages (Caffe's 1/(2N) sum ||.||^2), 'sum' adds, 'none'
    returns the N per-sample values.
    """
    x, target = _pair("euclidean_loss", x, target)
    d = x - target
    sq = d * d
    per = 0.5 * (ops.sum(sq, axis=tuple(range(1, x.ndim))) if x.ndim > 1 else sq)
    return _reduce(per, reduction, "euclidean_loss")


def _class_axis(name: str, x: Tensor) -> int:
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")
    return 1 if x.ndim >= 2 else 0


def _class_coefficients(name: str, x: Tensor, caxis: int, target: np.ndarray, weight: Any,
                        ignore_index: int, smoothing: float) -> tuple[np.ndarray, float]:
    """q with q[n, c] = (1-s) w[y_n] [c = y_n] + s/C w_c (zero for ignored n), and sum w[y_n]."""
    shape = x.shape
    n_classes = shape[caxis]
    want = shape[:caxis] + shape[caxis + 1:]
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got {target.dtype}")
    if target.shape != want:
        raise ValueError(f"{name}: target of shape {target.shape} does not match input of shape "
                         f"{shape} (expected {want})")
    valid = target != ignore_index
    all_valid = bool(valid.all())
    safe = target if all_valid else np.where(valid, target, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= n_classes):
        bad = safe[(safe < 0) | (safe >= n_classes)]
        raise IndexError(f"{name}: target {int(bad.flat[0])} is out of bounds for "
                         f"{n_classes} classes")
    w = None if weight is None else _value(weight).astype(x.dtype, copy=False)
    if w is not None and w.shape != (n_classes,):
        raise ValueError(f"{name}: weight of shape {w.shape} does not match {n_classes} classes")
    if w is not None:
        wt = w[safe] if all_valid else w[safe] * valid
    else:
        wt = np.ones_like(safe, dtype=x.dtype) if all_valid else valid.astype(x.dtype)
    q = zeros(shape, x.dtype, safe)
    if caxis == len(shape) - 1:  # classes last: plain fancy indexing (put_along_axis is slow)
        rows = like(np.arange(safe.size).reshape(safe.shape), safe)
        q[(rows, safe) if safe.ndim else safe] = wt * (1.0 - smoothing)
    else:  # put_along_axis's index, built here (CuPy has no put_along_axis)
        grids = [like(g, safe) for g in np.indices(safe.shape, sparse=True)]
        q[(*grids[:caxis], safe, *grids[caxis:])] = wt * (1.0 - smoothing)
    if smoothing:
        wc = 1.0 if w is None else w.reshape((n_classes,) + (1,) * (len(shape) - caxis - 1))
        q += np.expand_dims(valid, caxis) * (wc * (smoothing / n_classes))
    return q, float(wt.sum())


def _mean_scale(denom: float) -> float:
    return 1.0 / denom if denom else math.nan


def cross_entropy(x: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """-sum_c q_c log softmax(x)_c, with class axis 1 (0 for 1-D input), fused and stable.

    target: class indices (input's shape without the class axis) or class probabilities
    (input's shape).  With indices, 'mean' divides by the summed weights of the non-ignored
    targets; with probabilities, by the number of samples (as PyTorch).
    """
    x = _t(x)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    caxis = _class_axis("cross_entropy", x)
    n_classes = x.shape[caxis]
    t = target if isinstance(target, Tensor) else asarray(target)
    if t.dtype.kind == "f":
        if tuple(t.shape) != x.shape:
            raise ValueError(f"cross_entropy: probability target of shape {tuple(t.shape)} does "
                             f"not match input of shape {x.shape}")
        q: Any = t  # a Tensor stays one, so gradients and tangents reach the target
        if label_smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / n_classes
        if weight is not None:
            q = q * _value(weight).astype(x.dtype, copy=False).reshape(
                (n_classes,) + (1,) * (x.ndim - caxis - 1))
        denom = float(x.size // n_classes) if x.size else 0.0
    else:
        q, denom = _class_coefficients("cross_entropy", x, caxis, _value(t), weight,
                                       ignore_index, label_smoothing)
    scale = None if reduction == "none" else 1.0 if reduction == "sum" else _mean_scale(denom)
    return cross_entropy_q(x, q, caxis - x.ndim, scale)


def nll_loss(x: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w[y] x[y] per sample (x holds log-probabilities); 'mean' divides by sum w[y]."""
    x = _t(x)
    _check_reduction(reduction, "nll_loss")
    caxis = _class_axis("nll_loss", x)
    q, denom = _class_coefficients("nll_loss", x, caxis, _value(target), weight, ignore_index,
                                   0.0)
    per = -ops.sum(x * q, axis=caxis)
    if reduction == "none":
        return per
    total = ops.sum(per)
    return total if reduction == "sum" else total * _mean_scale(denom)


def _check_probabilities(x: Any) -> None:
    a = x._data if isinstance(x, Tensor) else x
    if ((a < 0) | (a > 1)).any():
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")


def binary_cross_entropy(x: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch does."""
    x, target = _pair("binary_cross_entropy", x, target)
    function.library_call(_check_probabilities, x)  # cr.compile checks each replay's input too
    log_x = ops.clip(ops.log(x), -100.0, None)
    log_1mx = ops.clip(ops.log(1.0 - x), -100.0, None)
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(x: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """w ((1 - t) x + (1 + (pw - 1) t) softplus(-x)): -w (pw t log s(x) + (1-t) log(1-s(x)))."""
    x, target = _pair("binary_cross_entropy_with_logits", x, target)
    sp = ops.softplus(-x)
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * x + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _one_hot_rows(n_classes: int, dtype: Any, y: Any) -> Any:
    return (like(np.arange(n_classes), y) == y[..., None]).astype(dtype)


def _class_weights(w: Any, y: Any) -> Any:
    return like(w, y)[y][..., None]  # host weights follow a CUDA target


def multi_margin_loss(x: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge: sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C per sample."""
    x = _t(x)
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got {p}")
    if x.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: input must be 1-D or 2-D, got shape {x.shape}")
    n_classes = x.shape[-1]
    y = _value(target)
    if y.dtype.kind not in "iu" or y.shape != x.shape[:-1]:
        raise ValueError(f"multi_margin_loss: target must hold integer classes of shape "
                         f"{x.shape[:-1]}, got {y.dtype} of shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise IndexError(f"multi_margin_loss: target out of bounds for {n_classes} classes")
    # the target's one-hot rows and class weights through function.values: cr.compile replays
    # them on a new target
    t = target if isinstance(target, Tensor) else as_operand(y)
    onehot = values(partial(_one_hot_rows, n_classes, x.dtype), t)
    x_y = ops.sum(x * onehot, axis=-1, keepdims=True)
    h = ops.relu(x + (margin - x_y))
    if p == 2:
        h = h * h
    coef = (1.0 - onehot) * (1.0 / n_classes)
    if weight is not None:
        w = _value(weight).astype(x.dtype, copy=False)
        coef = coef * values(partial(_class_weights, w), t)
    return _reduce(ops.sum(h * coef, axis=-1), reduction, "multi_margin_loss")
