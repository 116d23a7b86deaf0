"""chainrule.nn.functional: layers, activations and losses as functions (PyTorch's names).

Activations and losses are built from chainrule's ops, or from the fused ops of
``chainrule.ops.nn`` where one rule is much cheaper than the graph of the parts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import creation, ops
from chainrule.autodiff import function
from chainrule.autodiff.modes import no_grad
from chainrule.backend import asarray, like, move_like
from chainrule.dtypes import get_default_dtype
from chainrule.nn.attention import scaled_dot_product_attention
from chainrule.nn.bilinear import bilinear
from chainrule.nn.channel_shuffle import channel_shuffle
from chainrule.nn.distance import (
    cosine_embedding_loss,
    cosine_similarity,
    gaussian_nll_loss,
    hinge_embedding_loss,
    kl_div,
    margin_ranking_loss,
    one_hot,
    pairwise_distance,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from chainrule.nn.dropout import dropout, dropout1d, dropout2d, dropout3d
from chainrule.nn.loss_functions import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    euclidean_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    smooth_l1_loss,
)
from chainrule.nn.loss_multilabel import multilabel_margin_loss, multilabel_soft_margin_loss
from chainrule.nn.normalization_more import (
    affine_params,
    group_norm,
    instance_norm,
    local_response_norm,
    rms_norm,
)
from chainrule.nn.patches import fold, unfold
from chainrule.nn.pointwise import (
    celu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    silu,
    softmin,
    softsign,
    tanhshrink,
    threshold,
)
from chainrule.nn.resize import interpolate, pad, pixel_shuffle, pixel_unshuffle, upsample
from chainrule.nn.shrink import hardshrink, softshrink
from chainrule.ops.conv import conv1d, conv2d
from chainrule.ops.conv_transpose import conv_transpose1d, conv_transpose2d
from chainrule.ops.nn import (
    elu,
    erf,
    gelu,
    leaky_relu,
    linear,
    normalize_affine,
    normalize_stats,
)
from chainrule.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops.pool_more import (
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    lp_pool1d,
    lp_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from chainrule.tensor import Tensor, as_operand

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
    "conv_transpose1d", "conv_transpose2d", "cross_entropy", "dropout", "dropout1d",
    "dropout2d", "dropout3d", "elu", "embedding", "erf", "euclidean_loss", "gelu",
    "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "max_pool1d",
    "max_pool2d", "mse_loss", "multi_margin_loss", "nll_loss", "noisy_relu", "normalize",
    "relu", "scaled_dot_product_attention", "sigmoid", "smooth_l1_loss", "softmax", "softplus",
    "tanh",
]
__all__ += [  # nn/pointwise.py
    "celu", "glu", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6",
    "selu", "silu", "softmin", "softsign", "tanhshrink", "threshold",
]
__all__ += [  # nn/distance.py
    "cosine_embedding_loss", "cosine_similarity", "gaussian_nll_loss", "hinge_embedding_loss",
    "kl_div", "margin_ranking_loss", "one_hot", "pairwise_distance", "poisson_nll_loss",
    "soft_margin_loss", "triplet_margin_loss",
]
__all__ += [  # nn/resize.py, nn/patches.py
    "fold", "interpolate", "pad", "pixel_shuffle", "pixel_unshuffle", "unfold", "upsample",
]
__all__ += [  # nn/normalization_more.py
    "group_norm", "instance_norm", "local_response_norm", "rms_norm",
]
__all__ += [  # ops/pool_more.py, nn/bilinear.py, nn/shrink.py, nn/channel_shuffle.py,
    # nn/loss_multilabel.py
    "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices", "bilinear", "channel_shuffle", "hardshrink",
    "lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d", "multilabel_margin_loss",
    "multilabel_soft_margin_loss", "softshrink",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _value(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else asarray(x)


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else creation.default_rng()


# ----- activations -----
def relu(x: Any, inplace: bool = False) -> Tensor:
    """max(x, 0).  ``inplace`` is accepted for PyTorch compatibility and ignored."""
    return ops.relu(_t(x))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x))."""
    return ops.sigmoid(_t(x))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return ops.tanh(_t(x))


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    x = _t(x)
    y = ops.softplus(x) if beta == 1 else ops.softplus(x * beta) * (1.0 / beta)
    if function.traced():  # cr.compile, ONNX export: a Tensor mask, on new values
        return ops.where(x * beta > threshold, x, y)
    over = x._data * beta > threshold
    return ops.where(over, x, y) if over.any() else y


def softmax(x: Any, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (the last axis when None)."""
    return ops.softmax(_t(x), axis=-1 if dim is None else dim)


def log_softmax(x: Any, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along dim (the last axis when None)."""
    return ops.log_softmax(_t(x), axis=-1 if dim is None else dim)


def noisy_relu(x: Any, sigma: Any = 1.0, training: bool = True,
               rng: np.random.Generator | None = None) -> Tensor:
    """max(0, x + s * n), n ~ N(0, 1) drawn afresh, in training; max(0, x) otherwise.

    s = sigma (a number); "sigmoid": variance sigmoid(x), the lecture's eps ~ N(0, sigma(x));
    a callable: s = sigma(x's array). The noise is not differentiated (gradient: the mask).
    """
    x = _t(x)
    if isinstance(sigma, str) and sigma != "sigmoid":
        raise ValueError(f"noisy_relu: sigma must be a number, 'sigmoid' or a callable: {sigma!r}")
    if not training or (isinstance(sigma, int | float) and sigma == 0):
        return ops.relu(x)
    dtype = x.dtype if x.dtype.kind == "f" else get_default_dtype()
    if isinstance(sigma, str):
        std = np.sqrt(0.5 + 0.5 * np.tanh(0.5 * x._data.astype(dtype)))  # overflow-free sigmoid
    elif callable(sigma):
        std = asarray(sigma(x._data)).astype(dtype, copy=False)
    else:
        std = sigma
    noise = like(_rng(rng).standard_normal(x.shape), x._data)
    return ops.relu(x + (noise * std).astype(dtype))


# ----- layers -----
def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalize each channel (axis 1) by batch statistics (training) or running ones.

    In training the running statistics, when given, are updated in place as PyTorch does:
    r = (1 - momentum) r + momentum s, with the unbiased variance for running_var.
    """
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), "
                         f"got shape {x.shape}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} of shape {tuple(t.shape)} does not match "
                             f"{c} channels of input of shape {x.shape}")
    axes = tuple(a - x.ndim for a in range(x.ndim) if a != 1)
    pshape = (c,) + (1,) * (x.ndim - 2)
    w, b = affine_params(x, weight, bias, c)
    if training and x.size // c <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                         f"training, got input of shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    mean, var = batch_stats(x._data, running_mean, running_var, training, momentum, axes, pshape)
    return normalize_affine(x, w, b, axes, pshape, eps, mean, var, not training)


def batch_stats(x: np.ndarray, running_mean: Any, running_var: Any, training: bool,
                momentum: float, axes: tuple[int, ...], pshape: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
    """batch_norm's mean and variance: the batch's, updating the running statistics in place
    (when given, on their own device: a host running statistic takes a device batch's), or
    the running ones; cr.compile replays this call."""
    if not training:
        return (like(_value(running_mean), x).astype(x.dtype, copy=False).reshape(pshape),
                like(_value(running_var), x).astype(x.dtype, copy=False).reshape(pshape))
    c = pshape[0]
    n = x.size // c
    mean, var = normalize_stats(x, axes)
    if running_mean is not None:
        rm = _value(running_mean)
        np.copyto(rm, (1.0 - momentum) * rm + momentum * move_like(mean.reshape(c), rm),
                  casting="unsafe")
    if running_var is not None:
        rv = _value(running_var)
        unbiased = move_like(var.reshape(c), rv) * (n / (n - 1))
        np.copyto(rv, (1.0 - momentum) * rv + momentum * unbiased, casting="unsafe")
    return mean, var


def layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing normalized_shape axes, then scale by weight, shift by bias."""
    x = _t(x)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, int | np.integer) else tuple(
        int(n) for n in normalized_shape)
    if not ns or x.shape[x.ndim - len(ns):] != ns or x.ndim < len(ns):
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with "
                         f"normalized_shape {ns}")
    axes = tuple(range(-len(ns), 0))
    w, b = affine_params(x, weight, bias, ns)
    mean, var = normalize_stats(x._data, axes)
    return normalize_affine(x, w, b, axes, ns, eps, mean, var, False)


def embedding(x: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight picked by the integer indices x; no gradient flows to padding_idx.

    With max_norm, the rows looked up are first renormalized in place to norm at most max_norm.
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    idx = _value(x)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    weight = _t(weight)
    idx = like(idx, weight._data)  # host indices follow the weight to its device
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range for {n} embeddings "
                         f"(got values in [{idx.min()}, {idx.max()}])")
    if max_norm is not None:
        if function.RECORDER is not None:
            function.RECORDER.unsupported("embedding with max_norm (it renormalises the weight "
                                          "in place, outside the ops)")
        with no_grad():
            rows = np.unique(idx)
            w = weight._data
            norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
            big = norms > max_norm
            scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] *= scale[:, None]
    out = ops.getitem(weight, idx)
    if padding_idx is not None:  # a Tensor mask: cr.compile replays it on new indices
        t = x if isinstance(x, Tensor) and x._data is idx else as_operand(idx)  # on w's device
        pad = ops.expand_dims(t == padding_idx % n, -1)
        out = ops.where(pad, out.detach(), out)
    return out


def normalize(x: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along dim (p = 1, 2, any other p > 0, or inf)."""
    x = _t(x)
    if p == 2:
        norm = ops.sqrt(ops.sum(x * x, axis=dim, keepdims=True))
    elif p == 1:
        norm = ops.sum(ops.abs(x), axis=dim, keepdims=True)
    elif p == math.inf:
        norm = ops.max(ops.abs(x), axis=dim, keepdims=True)
    elif p > 0:
        norm = ops.sum(ops.abs(x) ** float(p), axis=dim, keepdims=True) ** (1.0 / p)
    else:
        raise ValueError(f"normalize: p must be positive, got {p}")
    return x / ops.clip(norm, eps, None)


