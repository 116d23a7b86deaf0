"""GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm and RMSNorm with their functions
(PyTorch's signatures, parameters, buffers, update rules and defaults).

group_norm and instance_norm are the fused normalize op of ``chainrule.ops.nn`` (the one batch
and layer norm use): group norm on an (N, G, C/G, -1) view of the input, instance norm over the
spatial axes; their statistics go through ``function.library_call`` so cr.compile replays them.
local_response_norm and rms_norm are built from chainrule's differentiable ops.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff import function
from chainrule.backend import asarray, like, move_like, zeros
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.nn.normalization import _NormBase, affine_parameters
from chainrule.ops.nn import normalize_affine, normalize_stats
from chainrule.tensor import Tensor, as_operand

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LocalResponseNorm", "RMSNorm", "group_norm", "instance_norm", "local_response_norm",
           "rms_norm"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def _value(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else asarray(x)


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)


def _check_channels(who: str, x: Tensor, **tensors: Any) -> None:
    """Each given tensor is a vector of x's channel count (axis 1)."""
    c = x.shape[1]
    for name, t in tensors.items():
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{who}: {name} of shape {tuple(t.shape)} does not match {c} "
                             f"channels of input of shape {x.shape}")


def affine_params(x: Tensor, weight: Any, bias: Any, shape: Any) -> tuple[Any, Any]:
    """weight and bias, or ones and zeros of x's dtype and shape when None (constants of the
    step for cr.compile: made from shapes alone)."""
    w = weight if weight is not None else function.constant(np.ones_like(x._data, shape=shape))
    b = bias if bias is not None else function.constant(zeros(shape, x.dtype, x._data))
    return w, b


# ----- group norm -----
def group_norm(x: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize each of num_groups groups of channels of each sample (over the group's channels
    and all spatial axes), then scale and shift per channel by weight and bias."""
    return _group_norm("group_norm", x, num_groups, weight, bias, eps)


def _group_norm(who: str, x: Any, num_groups: int, weight: Any, bias: Any,
                eps: float) -> Tensor:
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"{who}: expected an input of at least 2 dimensions (N, C, ...), got "
                         f"shape {x.shape}")
    n, c = x.shape[:2]
    if not isinstance(num_groups, int | np.integer) or num_groups <= 0 or c % num_groups:
        raise ValueError(f"{who}: expected the {c} channels of input of shape {x.shape} to be "
                         f"divisible by num_groups={num_groups!r}")
    _check_channels(who, x, weight=weight, bias=bias)
    g = int(num_groups)
    spatial = math.prod(x.shape[2:])
    if n * (c // g) * spatial == 1:  # PyTorch's check (_verify_batch_size)
        raise ValueError(f"{who}: expected more than 1 value per channel when training, got "
                         f"input of shape {x.shape} with num_groups={g}")
    xg = ops.reshape(x, (n, g, c // g, spatial))
    axes, pshape = (-2, -1), (g, c // g, 1)
    mean, var = function.library_call(normalize_stats, xg._data, axes)
    w, b = affine_params(x, weight, bias, c)
    return ops.reshape(normalize_affine(xg, w, b, axes, pshape, eps, mean, var, False), x.shape)


class GroupNorm(Module):
    """Group normalization of (N, C, ...) inputs: num_channels split into num_groups groups.

    weight (ones) and bias (zeros) have shape (num_channels,) when affine.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        as_device(device, "GroupNorm")
        if not isinstance(num_groups, int | np.integer) or num_groups <= 0:
            raise ValueError(f"GroupNorm: num_groups must be a positive integer, got "
                             f"{num_groups!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dt = get_default_dtype() if dtype is None else dtype
        affine_parameters(self, (num_channels,), dt, affine, bias)

    def reset_parameters(self) -> None:
        """Weight to one, bias to zero."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Any) -> Tensor:
        x = _t(x)
        if self.affine and x.ndim >= 2 and x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with {self.num_channels} channels "
                             f"(num_channels), got input of shape {x.shape}")
        return _group_norm("GroupNorm", x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


# ----- instance norm -----
def instance_norm(x: Any, running_mean: Any = None, running_var: Any = None, weight: Any = None,
                  bias: Any = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample over its spatial axes (use_input_stats), or by
    the running statistics; then scale and shift per channel.

    With use_input_stats the running statistics, when given, are updated in place as PyTorch
    does: r = (1 - momentum) r + momentum s, s the batch average of the per-sample mean and
    unbiased variance.
    """
    return _instance_norm("instance_norm", x, running_mean, running_var, weight, bias,
                          use_input_stats, momentum, eps)


def _instance_norm(who: str, x: Any, running_mean: Any, running_var: Any, weight: Any,
                   bias: Any, use_input_stats: bool, momentum: float, eps: float) -> Tensor:
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"{who}: expected an input of at least 2 dimensions (N, C, ...), got "
                         f"shape {x.shape}")
    _check_channels(who, x, running_mean=running_mean, running_var=running_var, weight=weight,
                    bias=bias)
    if use_input_stats and math.prod(x.shape[2:]) <= 1:
        raise ValueError(f"{who}: expected more than 1 spatial element when training, got "
                         f"input of shape {x.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ValueError(f"{who}: running_mean and running_var are needed when "
                         f"use_input_stats is False")
    c = x.shape[1]
    axes = tuple(range(2 - x.ndim, 0))
    pshape = (c,) + (1,) * (x.ndim - 2)
    mean, var = function.library_call(instance_stats, x._data, running_mean, running_var,
                                      use_input_stats, momentum, axes, pshape)
    w, b = affine_params(x, weight, bias, c)
    return normalize_affine(x, w, b, axes, pshape, eps, mean, var, not use_input_stats)


def instance_stats(x: np.ndarray, running_mean: Any, running_var: Any, use_input_stats: bool,
                   momentum: float, axes: tuple[int, ...], pshape: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """instance_norm's mean and variance: per sample and channel, updating the running
    statistics in place with their batch averages (when given), or the running ones."""
    if not use_input_stats:
        return (like(_value(running_mean), x).astype(x.dtype, copy=False).reshape(pshape),
                like(_value(running_var), x).astype(x.dtype, copy=False).reshape(pshape))
    mean, var = normalize_stats(x, axes)
    nc = x.shape[:2]
    if running_mean is not None:
        rm = _value(running_mean)
        batch_mean = move_like(mean.reshape(nc).mean(axis=0), rm)
        np.copyto(rm, (1.0 - momentum) * rm + momentum * batch_mean, casting="unsafe")
    if running_var is not None:
        rv = _value(running_var)
        n = math.prod(x.shape[2:])
        unbiased = move_like(var.reshape(nc).mean(axis=0), rv) * (n / (n - 1))
        np.copyto(rv, (1.0 - momentum) * rv + momentum * unbiased, casting="unsafe")
    return mean, var


class _InstanceNorm(_NormBase):
    """Instance normalization: each channel of each sample by its own statistics.

    PyTorch's defaults (affine=False, track_running_stats=False); with track_running_stats the
    running averages are updated in training and used in eval (num_batches_tracked is kept but,
    as in PyTorch, never counted). Unbatched inputs (without N) are accepted.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, x: Any) -> Tensor:
        x = _t(x)
        self._check_input_dim(x)
        who = type(self).__name__
        batched = x.ndim == self._expected_ndims[-1]
        dim = 1 if batched else 0
        if x.shape[dim] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(f"{who}: expected input's size at dim={dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{x.shape[dim]} (input of shape {x.shape})")
            warnings.warn(f"{who}: input's size at dim={dim} does not match num_features. "
                          "You can silence this warning by not passing in num_features, which "
                          "is not used because affine=False", stacklevel=2)
        y = _instance_norm(who, x if batched else ops.expand_dims(x, 0), self.running_mean,
                           self.running_var, self.weight, self.bias,
                           self.training or not self.track_running_stats,
                           0.0 if self.momentum is None else self.momentum, self.eps)
        return y if batched else ops.squeeze(y, 0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or unbatched (C, L) inputs over L."""

    _expected_ndims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or unbatched (C, H, W) inputs over H, W."""

    _expected_ndims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or unbatched (C, D, H, W) inputs over D, H, W."""

    _expected_ndims = (4, 5)


# ----- local response norm -----
def local_response_norm(x: Any, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha/size sum x^2)^beta, the sum over the size channels around each channel
    (zero-padded: size // 2 before, (size - 1) // 2 after), as PyTorch."""
    return _local_response_norm("local_response_norm", x, size, alpha, beta, k)


def _local_response_norm(who: str, x: Any, size: int, alpha: float, beta: float,
                         k: float) -> Tensor:
    x = _t(x)
    if x.ndim < 3:
        raise ValueError(f"{who}: expected 3D or higher dimensionality input (got {x.ndim} "
                         f"dimensions, shape {x.shape})")
    if not isinstance(size, int | np.integer) or size <= 0:
        raise ValueError(f"{who}: size must be a positive integer, got {size!r}")
    if x.size == 0:
        return x
    c = x.shape[1]
    widths = [(0, 0)] * x.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    sq = ops.pad(x * x, widths)
    # the window sum as size shifted slices: exact, where a cumsum difference loses precision
    total = sq[:, :c]
    for j in range(1, size):
        total = total + sq[:, j:j + c]
    return x / (total * (alpha / size) + k) ** beta


class LocalResponseNorm(Module):
    """Local response normalization across channels (axis 1) of (N, C, ...) inputs."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, x: Any) -> Tensor:
        return _local_response_norm("LocalResponseNorm", x, self.size, self.alpha, self.beta,
                                    self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


# ----- RMS norm -----
def rms_norm(x: Any, normalized_shape: Any, weight: Any = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing normalized_shape axes, times weight;
    eps None is the machine epsilon of x's dtype (as PyTorch)."""
    return _rms_norm("rms_norm", x, normalized_shape, weight, eps)


def _rms_norm(who: str, x: Any, normalized_shape: Any, weight: Any,
              eps: float | None) -> Tensor:
    x = _t(x)
    ns = _shape_tuple(normalized_shape)
    if not ns or x.ndim < len(ns) or x.shape[x.ndim - len(ns):] != ns:
        raise ValueError(f"{who}: input of shape {x.shape} does not end with "
                         f"normalized_shape {ns}")
    if weight is not None and tuple(weight.shape) != ns:
        raise ValueError(f"{who}: weight of shape {tuple(weight.shape)} does not match "
                         f"normalized_shape {ns}")
    if eps is None:
        eps = float(np.finfo(x.dtype if x.dtype.kind == "f" else get_default_dtype()).eps)
    axes = tuple(range(-len(ns), 0))
    y = x / ops.sqrt(ops.mean(x * x, axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing normalized_shape axes.

    weight (ones) has shape normalized_shape when elementwise_affine; there is no bias.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "RMSNorm")
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = get_default_dtype() if dtype is None else dtype
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """Weight to one."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Any) -> Tensor:
        return _rms_norm("RMSNorm", x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
