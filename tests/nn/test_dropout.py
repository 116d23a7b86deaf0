"""Dropout: inverted-dropout statistics in training, identity in eval."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = cr.tensor(np.ones((400, 500), np.float32), requires_grad=True)
    y = nn.Dropout(p, rng=np.random.default_rng(0))(x)
    kept = y.numpy() != 0
    assert y.dtype == np.float32
    assert abs(kept.mean() - (1 - p)) < 0.005
    np.testing.assert_allclose(y.numpy()[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.numpy().mean() - 1) < 0.02  # inverted dropout keeps the expectation
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # the gradient is the same mask


def test_dropout_is_identity_in_eval_and_for_p_zero(rng):
    x = cr.tensor(rng.standard_normal((3, 4)))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_p_one_zeroes_everything(rng):
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = nn.Dropout(1.0)(x)
    assert np.all(y.numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)


def test_dropout_uses_the_global_generator():
    x = cr.ones(50, 50)
    d = nn.Dropout(0.5)
    cr.manual_seed(7)
    a = d(x).numpy()
    b = d(x).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(d(x).numpy(), a)
    assert not np.array_equal(a, b)


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
