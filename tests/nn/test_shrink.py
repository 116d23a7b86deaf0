"""nn/shrink.py: Hardshrink and Softshrink against PyTorch (values and gradients at and around
the thresholds, NaN and infinities), gradcheck to second order and forward mode, float32, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module

LAMBDAS = [0.5, 0.0, 1.0, 0.3, 2.0]


def _input(rng, lambd, dtype=np.float64):
    x = 2 * rng.standard_normal((4, 5, 3))
    special = [lambd, -lambd, 0.0, -0.0, lambd + 1e-3, -lambd - 1e-3, 0.5, -0.5, 0.3, -0.3]
    x.reshape(-1)[: len(special)] = special  # the thresholds themselves and either side
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lambd", LAMBDAS)
@pytest.mark.parametrize("name", ["Hardshrink", "Softshrink"])
def test_shrink_matches_torch(name, lambd, dtype, rng):
    torch = pytest.importorskip("torch")
    m, tm = getattr(nn, name)(lambd), getattr(torch.nn, name)(lambd)
    compare_module(m, tm, [_input(rng, lambd, dtype)], dtype, rng)
    assert repr(m) == repr(tm)


@pytest.mark.parametrize("name", ["hardshrink", "softshrink"])
def test_shrink_nan_and_infinities_as_torch(name):
    """NaN stays NaN (PyTorch's kernels); the sign of a zero result is not compared: PyTorch's
    own differs between its float32 and float64 kernels."""
    torch = pytest.importorskip("torch")
    x = np.array([-0.3, 0.3, -0.0, 0.0, -0.5, 0.5, np.nan, -np.inf, np.inf])
    for dtype in DTYPES:
        got = getattr(F, name)(x.astype(dtype)).cpu().numpy()
        want = getattr(torch.nn.functional, name)(torch.tensor(x.astype(dtype))).numpy()
        np.testing.assert_array_equal(got, want)


def test_hardshrink_negative_lambd_is_identity_as_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(6)
    close(F.hardshrink(x, -0.5), torch.nn.functional.hardshrink(torch.tensor(x), -0.5),
          np.float64, "hardshrink(-0.5)")


@pytest.mark.parametrize("name", ["hardshrink", "softshrink"])
def test_shrink_gradcheck_second_order_and_forward_mode(name, rng):
    f = getattr(F, name)
    x = rng.standard_normal((3, 4))
    x[np.abs(np.abs(x) - 0.5) < 0.05] = 0.8  # finite differences off the thresholds
    assert cr.gradcheck(f, [x])
    assert cr.gradcheck(cr.grad(lambda x: (f(x) ** 3).sum()), [x])
    u = rng.standard_normal(x.shape)
    assert cr.gradcheck(lambda x: cr.jvp(f, (x,), (u,))[1], [x])


@pytest.mark.parametrize("name", ["hardshrink", "softshrink"])
def test_shrink_float32_stays_float32(name, rng):
    x = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = getattr(F, name)(x, 0.3)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_softshrink_rejects_negative_lambd():
    with pytest.raises(ValueError, match=r"softshrink: lambd must be non-negative, got -0\.5"):
        nn.Softshrink(-0.5)(np.zeros(3))
