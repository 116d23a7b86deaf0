"""EchoState: the reservoir's construction (spectral radius, sparsity, buffers), the leaky update
against a NumPy loop, the ridge readout, training only the readout, layouts and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


def _numpy_states(esn, x, h=None):
    w_in, w, b = (esn.weight_in.cpu().numpy().astype(np.float64),
                  esn.weight_res.cpu().numpy().astype(np.float64),
                  esn.bias_res.cpu().numpy().astype(np.float64))
    h = np.zeros((*x.shape[1:-1], w.shape[0])) if h is None else h
    out = []
    for xt in x:
        h = (1 - esn.leak) * h + esn.leak * np.tanh(xt @ w_in.T + h @ w.T + b)
        out.append(h)
    return np.stack(out)


def test_reservoir_is_scaled_sparse_and_fixed():
    esn = nn.EchoState(3, 120, 2, spectral_radius=0.8, sparsity=0.9, input_scaling=0.5,
                       bias_scaling=0.1, seed=1)
    w = esn.weight_res.cpu().numpy()
    assert np.isclose(np.abs(np.linalg.eigvals(w.astype(np.float64))).max(), 0.8, rtol=1e-5)
    assert 0.08 < np.mean(w != 0) < 0.12
    assert np.abs(esn.weight_in.cpu().numpy()).max() <= 0.5
    assert np.abs(esn.bias_res.cpu().numpy()).max() <= 0.1
    assert [n for n, _ in esn.named_parameters()] == ["readout.weight", "readout.bias"]
    assert list(esn.state_dict()) == ["weight_in", "weight_res", "bias_res", "readout.weight",
                                      "readout.bias"]
    assert all(a.dtype == np.float32 for a in esn.state_dict().values())
    same = nn.EchoState(3, 120, 2, spectral_radius=0.8, sparsity=0.9, input_scaling=0.5,
                        bias_scaling=0.1, seed=1)
    np.testing.assert_array_equal(same.weight_res.cpu().numpy(), w)


@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_states_follow_the_leaky_update(leak, rng):
    esn = nn.EchoState(2, 20, 1, leak=leak, bias_scaling=0.5, seed=0, dtype=np.float64)
    x = rng.standard_normal((15, 4, 2))
    h0 = rng.standard_normal((4, 20))
    np.testing.assert_allclose(esn.states(x, h0).cpu().numpy(), _numpy_states(esn, x, h0),
                               rtol=1e-12)
    np.testing.assert_allclose(esn.states(x[:, 0]).cpu().numpy(),
                               _numpy_states(esn, x[:, :1])[:, 0], rtol=1e-12)
    bf = nn.EchoState(2, 20, 1, leak=leak, bias_scaling=0.5, seed=0, batch_first=True,
                      dtype=np.float64)
    bf.load_state_dict(esn.state_dict())
    np.testing.assert_allclose(bf(x.swapaxes(0, 1)).cpu().numpy().swapaxes(0, 1),
                               esn(x).cpu().numpy(), rtol=1e-12)


def test_fit_readout_recovers_a_linear_map_of_the_states(rng):
    esn = nn.EchoState(1, 50, 2, spectral_radius=0.9, seed=3, dtype=np.float64)
    x = rng.uniform(-1, 1, (300, 1))
    s = esn.states(x).cpu().numpy()
    w, b = rng.standard_normal((2, 50)), rng.standard_normal(2)
    mse = esn.fit_readout(x, s @ w.T + b, ridge=0.0, washout=0)
    assert mse < 1e-18
    np.testing.assert_allclose(esn.readout.weight.cpu().numpy(), w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(esn.readout.bias.cpu().numpy(), b, rtol=1e-6, atol=1e-8)


def test_echo_state_property_forgets_the_initial_state(rng):
    esn = nn.EchoState(1, 100, 1, spectral_radius=0.9, seed=0, dtype=np.float64)
    x = rng.uniform(-1, 1, (200, 1))
    a = esn.states(x, rng.standard_normal(100)).cpu().numpy()
    b = esn.states(x, rng.standard_normal(100)).cpu().numpy()
    assert np.abs(a[0] - b[0]).max() > 0.1
    assert np.abs(a[-1] - b[-1]).max() < 1e-6


def test_only_the_readout_learns(rng):
    esn = nn.EchoState(2, 30, 1, seed=0)
    x = cr.tensor(rng.standard_normal((10, 3, 2)).astype(np.float32), requires_grad=True)
    esn(x).sum().backward()
    assert esn.readout.weight.grad is not None
    assert all(b.grad is None and not b.requires_grad for b in esn.buffers())
    assert x.grad.shape == x.shape  # the input gradient flows through the reservoir


def test_errors_name_the_shapes():
    esn = nn.EchoState(2, 10, 1, seed=0)
    with pytest.raises(ValueError, match=r"EchoState: input of shape \(5, 3\)"):
        esn(cr.zeros(5, 3))
    with pytest.raises(ValueError, match=r"target of shape \(5, 2\)"):
        esn.fit_readout(np.zeros((5, 2), np.float32), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="leak"):
        nn.EchoState(2, 10, 1, leak=0.0)
