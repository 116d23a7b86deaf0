"""Activation modules: thin wrappers over nn.functional with PyTorch's constructor arguments."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "NoisyReLU", "ReLU", "Sigmoid", "Softmax",
           "Softmax2d", "Softplus", "Tanh"]


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class NoisyReLU(Module):
    """max(0, x + s * n), n ~ N(0, 1), in training; ReLU in eval mode.

    s = ``sigma`` (a number, default 1); ``sigma="sigmoid"`` makes the noise input-dependent
    as in the lecture, eps ~ N(0, sigmoid(x)) (variance sigmoid(x)); a callable maps x's
    values to s elementwise. Noise comes from ``rng`` when given, else from chainrule's
    global generator.
    """

    def __init__(self, sigma: float | str | Callable[[np.ndarray], np.ndarray] = 1.0,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(sigma, str):
            if sigma != "sigmoid":
                raise ValueError(f"NoisyReLU: sigma must be a number, 'sigmoid' or a callable, "
                                 f"got {sigma!r}")
        elif not callable(sigma) and sigma < 0:
            raise ValueError(f"NoisyReLU: sigma must be non-negative, got {sigma}")
        self.sigma = sigma
        self.rng = rng

    def forward(self, x: Tensor) -> Tensor:
        return F.noisy_relu(x, self.sigma, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma!r}" if isinstance(self.sigma, str | float | int) else (
            f"sigma={getattr(self.sigma, '__name__', 'callable')}")


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """x Phi(x) with the exact erf (approximate='none', PyTorch's default) or the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """x if x > 0 else alpha (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along dim (the last axis when None)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """softmax over the channels (axis -3) of (N, C, H, W) or (C, H, W), at each position."""

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead "
                             f"(shape {tuple(x.shape)})")
        return F.softmax(x, -3)


class LogSoftmax(Module):
    """x - logsumexp(x) along dim (the last axis when None)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
