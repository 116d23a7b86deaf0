"""nn.init against PyTorch's formulas: gains, fans, bounds and moments, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init


@pytest.mark.parametrize(("name", "param"), [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def _param(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


@pytest.mark.parametrize("shape", [(200, 300), (64, 8, 3, 3)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    want = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._fans(_param(*shape)) == want


@pytest.mark.parametrize(("fn", "kw", "bound"), [
    (init.xavier_uniform_, {"gain": 2.0}, 2.0 * math.sqrt(6 / (300 + 200))),
    (init.kaiming_uniform_, {}, math.sqrt(2) * math.sqrt(3 / 300)),  # a=0: gain sqrt 2
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(300)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"},
     math.sqrt(2) * math.sqrt(3 / 200)),
    (init.uniform_, {"a": -0.3, "b": 0.3}, 0.3),
])
def test_uniform_initializers(fn, kw, bound):
    w = fn(_param(200, 300), **kw, generator=np.random.default_rng(0))
    assert w.dtype == np.float32
    assert np.abs(w.cpu().numpy()).max() <= bound * (1 + 1e-6)
    assert np.abs(w.cpu().numpy()).max() > 0.99 * bound
    assert abs(w.cpu().numpy().std() - bound / math.sqrt(3)) < 0.01 * bound


@pytest.mark.parametrize(("fn", "kw", "std"), [
    (init.xavier_normal_, {}, math.sqrt(2 / 500)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 300)),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "tanh"}, 5 / 3 / math.sqrt(200)),
    (init.normal_, {"mean": 1.0, "std": 0.5}, 0.5),
])
def test_normal_initializers(fn, kw, std):
    w = fn(_param(200, 300, dtype=np.float64), **kw, rng=np.random.default_rng(0))
    assert w.dtype == np.float64
    w = w.cpu().numpy()
    assert abs(w.std() - std) < 0.01 * std
    assert abs(w.mean() - kw.get("mean", 0.0)) < 0.01 * std + 0.01 * kw.get("mean", 0.0)


def test_constant_zeros_ones_eye():
    assert np.all(init.constant_(_param(2, 3), 0.25).cpu().numpy() == 0.25)
    assert np.all(init.zeros_(_param(2, 3)).cpu().numpy() == 0)
    assert np.all(init.ones_(_param(2, 3)).cpu().numpy() == 1)
    np.testing.assert_array_equal(init.eye_(_param(2, 3)).cpu().numpy(), np.eye(2, 3))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(_param(*shape, dtype=np.float64), gain=2.0).cpu().numpy()
    w = w.reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(min(rows, cols)), atol=1e-12)


def test_trunc_normal_stays_in_bounds():
    w = init.trunc_normal_(_param(100, 100), std=1.0, a=-0.5, b=1.0)
    assert w.cpu().numpy().min() >= -0.5
    assert w.cpu().numpy().max() <= 1.0


def test_global_generator_seeds_initializers():
    cr.manual_seed(11)
    a = init.kaiming_uniform_(_param(4, 5)).cpu().numpy().copy()
    cr.manual_seed(11)
    np.testing.assert_array_equal(init.kaiming_uniform_(_param(4, 5)).cpu().numpy(), a)
    g1 = init.normal_(_param(3), generator=np.random.default_rng(2)).cpu().numpy()
    g2 = init.normal_(_param(3), rng=np.random.default_rng(2)).cpu().numpy()
    np.testing.assert_array_equal(g1, g2)


def test_initializers_record_nothing_and_need_2d():
    p = _param(3)
    init.normal_(p)
    assert p.is_leaf
    assert p.grad is None
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(p)
