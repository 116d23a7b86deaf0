"""BatchNorm1d/2d/3d and LayerNorm (PyTorch's parameters, buffers and update rules), the base
InstanceNorm shares with BatchNorm, and Normalize (l_p normalization, the modular-learning
lecture's l1 / l2 normalization modules)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor, as_operand

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "Normalize"]



def affine_parameters(m: Module, shape: tuple[int, ...], dtype: Any, affine: bool,
                      bias: bool = True) -> None:
    """A normalization layer's weight (ones) and bias (zeros) of shape, or None for each that
    affine and bias leave out, as PyTorch registers them."""
    m.register_parameter("weight", Parameter(np.ones(shape, dtype)) if affine else None)
    m.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if affine and bias else None)

class _NormBase(Module):
    """What BatchNorm and InstanceNorm share (PyTorch's _NormBase): per-channel weight (ones)
    and bias (zeros) when affine, and the buffers running_mean (zeros), running_var (ones) and
    num_batches_tracked (an int64 scalar) when track_running_stats."""

    _expected_ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        as_device(device, type(self).__name__)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = get_default_dtype() if dtype is None else dtype
        affine_parameters(self, (num_features,), dt, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dt))
            self.register_buffer("running_var", np.ones(num_features, dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Zero the running mean and count; set the running variance to one."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight to one and bias to zero."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in self._expected_ndims:
            want = " or ".join(f"{n}D" for n in self._expected_ndims)
            raise ValueError(f"{type(self).__name__}: expected {want} input "
                             f"(got {x.ndim}D input of shape {x.shape})")

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Per-channel normalization by batch statistics in training, running ones in eval.

    Buffers running_mean, running_var and num_batches_tracked follow PyTorch:
    r = (1 - momentum) r + momentum s (unbiased variance), or the cumulative average when
    momentum is None.  Without track_running_stats, batch statistics are used in both modes.
    """

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else as_operand(x)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs over all axes but C."""

    _expected_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs over all axes but C."""

    _expected_ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) inputs over all axes but C."""

    _expected_ndims = (5,)


class LayerNorm(Module):
    """Normalization over the trailing normalized_shape axes of each sample.

    weight (ones) and bias (zeros) have shape normalized_shape when elementwise_affine.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "LayerNorm")
        if isinstance(normalized_shape, int | np.integer):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = get_default_dtype() if dtype is None else dtype
        affine_parameters(self, self.normalized_shape, dt, elementwise_affine, bias)

    def reset_parameters(self) -> None:
        """Weight to one, bias to zero."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Normalize(Module):
    """x / max(||x||_p, eps) along dim: l2 (p=2) or l1 (p=1) normalization, any p > 0 or inf.

    The module form of ``F.normalize`` (PyTorch has only the function); no parameters.
    """

    def __init__(self, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> None:
        super().__init__()
        if not p > 0:
            raise ValueError(f"Normalize: p must be positive, got {p}")
        self.p = p
        self.dim = dim
        self.eps = eps

    def forward(self, x: Any) -> Tensor:
        return F.normalize(x, self.p, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"p={self.p}, dim={self.dim}, eps={self.eps}"
