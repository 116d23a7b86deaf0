"""Activation modules against PyTorch (values, input gradients, second derivatives)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, close, compare_module

# (chainrule module, torch module name and arguments)
CASES = {
    "relu": (lambda: nn.ReLU(), ("ReLU",)),
    "leaky_relu": (lambda: nn.LeakyReLU(), ("LeakyReLU",)),
    "leaky_relu_0.2": (lambda: nn.LeakyReLU(0.2), ("LeakyReLU", 0.2)),
    "softplus": (lambda: nn.Softplus(), ("Softplus",)),
    "softplus_beta": (lambda: nn.Softplus(beta=2.0, threshold=3.0), ("Softplus", 2.0, 3.0)),
    "sigmoid": (lambda: nn.Sigmoid(), ("Sigmoid",)),
    "tanh": (lambda: nn.Tanh(), ("Tanh",)),
    "gelu": (lambda: nn.GELU(), ("GELU",)),
    "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), ("GELU", "tanh")),
    "elu": (lambda: nn.ELU(), ("ELU",)),
    "elu_0.7": (lambda: nn.ELU(alpha=0.7), ("ELU", 0.7)),
    "softmax_1": (lambda: nn.Softmax(dim=1), ("Softmax", 1)),
    "softmax_-1": (lambda: nn.Softmax(dim=-1), ("Softmax", -1)),
    "log_softmax_1": (lambda: nn.LogSoftmax(dim=1), ("LogSoftmax", 1)),
    "log_softmax_0": (lambda: nn.LogSoftmax(dim=0), ("LogSoftmax", 0)),
    "softmax2d": (lambda: nn.Softmax2d(), ("Softmax2d",)),
}


def _torch_module(spec):
    import torch

    name, *args = spec
    return getattr(torch.nn, name)(*args)


def _inputs(rng):
    x = 3 * rng.standard_normal((4, 5, 3))
    x[0, 0, :] = [0.0, 25.0, -30.0]  # zero, and beyond Softplus' threshold
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_activation_matches_torch(name, dtype, rng):
    pytest.importorskip("torch")
    make, spec = CASES[name]
    compare_module(make(), _torch_module(spec), [_inputs(rng)], dtype, rng)


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "elu_0.7", "softplus", "leaky_relu_0.2",
                                  "sigmoid", "log_softmax_1"])
def test_activation_second_derivative_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    make, spec = CASES[name]
    m, tm = make(), _torch_module(spec)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((3, 4))

    def f(x):
        return (m(x) * cr.tensor(w)).sum()

    g2 = cr.grad(lambda x: (cr.grad(f)(x) ** 2).sum())(cr.tensor(x))
    tx = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad((tm(tx) * torch.tensor(w)).sum(), tx, create_graph=True)
    (tg2,) = torch.autograd.grad((tg**2).sum(), tx)
    close(g2, tg2, np.float64)


def test_gelu_exact_uses_erf(rng):
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-8, 8, 1001), [-40.0, 40.0, np.inf, -np.inf]])
    close(nn.GELU()(cr.tensor(x)), torch.nn.functional.gelu(torch.tensor(x)), np.float64)
    close(cr.nn.functional.erf(x), torch.erf(torch.tensor(x)), np.float64)


@pytest.mark.parametrize("module", [nn.ReLU(), nn.GELU(), nn.ELU(), nn.LeakyReLU(),
                                    nn.Softplus(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(-1),
                                    nn.LogSoftmax(-1), nn.NoisyReLU(0.5)], ids=repr)
def test_float32_stays_float32(module, rng):
    x = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = module(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_noisy_relu_is_relu_in_eval(rng):
    m = nn.NoisyReLU(0.5).eval()
    x = rng.standard_normal((10, 10))
    np.testing.assert_array_equal(m(cr.tensor(x)).cpu().numpy(), np.maximum(x, 0))


def test_noisy_relu_adds_gaussian_noise_in_training(rng):
    x = rng.standard_normal((200, 100))
    m = nn.NoisyReLU(0.3, rng=np.random.default_rng(5))
    y = m(cr.tensor(x)).cpu().numpy()
    noise = 0.3 * np.random.default_rng(5).standard_normal(x.shape)
    np.testing.assert_allclose(y, np.maximum(x + noise, 0), rtol=1e-12)
    # global generator: reproducible through manual_seed, fresh noise on every call
    g = nn.NoisyReLU(0.3)
    big = cr.tensor(np.full((100, 100), 10.0))
    cr.manual_seed(3)
    a = g(big).cpu().numpy()
    b = g(big).cpu().numpy()
    cr.manual_seed(3)
    np.testing.assert_array_equal(g(big).cpu().numpy(), a)
    assert not np.array_equal(a, b)
    assert abs((a - 10).mean()) < 0.01
    assert abs((a - 10).std() - 0.3) < 0.01


def test_noisy_relu_gradient_follows_the_noisy_mask():
    x = cr.tensor(np.zeros((50, 50)), requires_grad=True)
    y = nn.NoisyReLU(1.0, rng=np.random.default_rng(0))(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), (y.cpu().numpy() > 0).astype(np.float64))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_noisy_relu_input_dependent_noise_has_variance_sigmoid_x():
    # the lecture's eps ~ N(0, sigma(x)): variance sigmoid(x), so std -> 1 for large x, -> 0 below
    x = np.repeat(np.array([-12.0, -2.0, 0.0, 2.0, 12.0]), 40000).reshape(5, -1)
    m = nn.NoisyReLU("sigmoid", rng=np.random.default_rng(7))
    y = m(cr.tensor(x)).cpu().numpy()
    sig = 1 / (1 + np.exp(-x))
    noise = np.sqrt(sig) * np.random.default_rng(7).standard_normal(x.shape)
    np.testing.assert_allclose(y, np.maximum(x + noise, 0), rtol=1e-12, atol=1e-15)
    assert abs(y[4].std() - np.sqrt(sig[4, 0])) < 0.01  # x = 12: std ~ 1
    assert (y[0] == 0).all()  # x = -12: noise std 0.0025 never lifts it above 0
    assert repr(m) == "NoisyReLU(sigma='sigmoid')"
    np.testing.assert_array_equal(m.eval()(cr.tensor(x)).cpu().numpy(), np.maximum(x, 0))


def test_noisy_relu_callable_sigma_and_default_unchanged():
    x = np.linspace(-3, 3, 600).reshape(20, 30)
    y = nn.NoisyReLU(lambda a: 0.1 * np.abs(a), rng=np.random.default_rng(1))(cr.tensor(x))
    want = np.maximum(x + 0.1 * np.abs(x) * np.random.default_rng(1).standard_normal(x.shape), 0)
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-12)
    default = nn.NoisyReLU(rng=np.random.default_rng(2))(cr.tensor(x)).cpu().numpy()  # sigma = 1
    np.testing.assert_allclose(
        default, np.maximum(x + np.random.default_rng(2).standard_normal(x.shape), 0), rtol=1e-12)
    xf = cr.tensor(x.astype(np.float32), requires_grad=True)
    yf = nn.NoisyReLU("sigmoid")(xf)
    yf.sum().backward()
    assert yf.dtype == xf.grad.dtype == np.float32
    np.testing.assert_array_equal(xf.grad.cpu().numpy(), (yf.cpu().numpy() > 0).astype(np.float32))
    with pytest.raises(ValueError, match="'sigmoid' or a callable"):
        nn.NoisyReLU("tanh")
    with pytest.raises(ValueError, match="non-negative"):
        nn.NoisyReLU(-1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax2d_over_channels_of_4d_input_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    compare_module(nn.Softmax2d(), torch.nn.Softmax2d(), [rng.standard_normal((2, 3, 4, 5))],
                   dtype, rng)
    assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 5, 6)])
def test_softmax2d_rejects_other_ranks(shape):
    with pytest.raises(ValueError, match=f"Softmax2d: expected input to be 3D or 4D, got "
                                         f"{len(shape)}D instead"):
        nn.Softmax2d()(np.zeros(shape))
