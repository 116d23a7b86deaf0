"""Small synthetic problems for examples and tests, each deterministic in its seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.data.dataset import TensorDataset


def _gaussian(x: np.ndarray) -> np.ndarray:
    return np.exp(-(x**2))


def _cubic(x: np.ndarray) -> np.ndarray:
    return x**3 - x


# name -> (function, domain): smooth targets for 1-D regression, and |x| (a kink ReLUs fit exactly)
FUNCTIONS_1D: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[float, float]]] = {
    "sin": (np.sin, (-np.pi, np.pi)),
    "cos": (np.cos, (-np.pi, np.pi)),
    "sinc": (np.sinc, (-3.0, 3.0)),
    "gaussian": (_gaussian, (-3.0, 3.0)),
    "cubic": (_cubic, (-1.5, 1.5)),
    "abs": (np.abs, (-1.0, 1.0)),
}


def _classes(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(x.astype(np.float32), y.astype(np.int64))


def xor(n: int = 200, seed: int = 0, dim: int = 1) -> TensorDataset:
    """XOR-like labels that no linear classifier separates; samples (x float32 (dim,), label int64).

    ``dim=1`` is the lecture's one-dimensional analogue: x uniform in [-2, 2], label 1 on the
    middle interval |x| < 1 and 0 outside it (two thresholds, so one hidden layer of two units).
    ``dim=2`` is the classic XOR: x uniform in [-1, 1]^2, label 1 when the signs of x0 and x1
    differ.
    """
    rng = np.random.default_rng(seed)
    if dim == 1:
        x = rng.uniform(-2.0, 2.0, size=(n, 1))
        return _classes(x, np.abs(x[:, 0]) < 1.0)
    if dim == 2:
        x = rng.uniform(-1.0, 1.0, size=(n, 2))
        return _classes(x, (x[:, 0] > 0) != (x[:, 1] > 0))
    raise ValueError(f"xor: dim must be 1 or 2, got {dim!r}")


def two_spirals(n: int = 200, noise: float = 0.0, seed: int = 0) -> TensorDataset:
    """Two interleaved spirals of 1.5 turns in [-1, 1]^2; samples (x float32 (2,), label int64).

    Class 1 is class 0 rotated by 180 degrees; ``noise`` is the std of Gaussian jitter added to
    each coordinate. Samples come in random order, ceil(n / 2) of class 0.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    t = np.sqrt(rng.uniform(0.05, 1.0, size=n)) * 3 * np.pi  # sqrt: even density along the arc
    sign = np.where(labels == 0, 1.0, -1.0)
    x = sign[:, None] * np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = x + noise * rng.standard_normal(x.shape)
    return _classes(x, labels)


def function_1d(
    fn: str | Callable[[np.ndarray], np.ndarray] = "sin",
    n: int = 200,
    seed: int = 0,
    noise: float = 0.0,
    domain: tuple[float, float] | None = None,
) -> TensorDataset:
    """Regression samples (x float32 (1,), y float32 (1,)) of y = fn(x) + noise * N(0, 1).

    ``fn`` names one of ``FUNCTIONS_1D`` (sin, cos, sinc, gaussian, cubic, abs) or is a callable
    on ndarrays, with ``domain`` then required. x is uniform on the domain, sorted.
    """
    if callable(fn):
        if domain is None:
            raise ValueError("function_1d: a callable fn needs domain=(low, high)")
        f = fn
    elif fn in FUNCTIONS_1D:
        f, default_domain = FUNCTIONS_1D[fn]
        domain = default_domain if domain is None else domain
    else:
        raise ValueError(f"function_1d: unknown fn {fn!r}; choose from {sorted(FUNCTIONS_1D)}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(domain[0], domain[1], size=(n, 1)), axis=0)
    y = np.asarray(f(x), dtype=np.float64) + noise * rng.standard_normal((n, 1))
    return TensorDataset(x.astype(np.float32), y.astype(np.float32))
