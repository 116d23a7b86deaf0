"""Derivatives of derivatives: any order, any mix of modes, no perturbation confusion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr


def _torch():
    return pytest.importorskip("torch")


def _torch_hessian(tf, x):
    torch = _torch()
    with warnings.catch_warnings():  # torch.func's first use may warn about torch.jit.script
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.func.hessian(tf)(torch.tensor(x)).cpu().numpy()


def _f(x):
    return cr.sin(x) * x**3


def _d1(x):
    return np.cos(x) * x**3 + 3 * x**2 * np.sin(x)


def _d2(x):
    return -(x**3) * np.sin(x) + 6 * x**2 * np.cos(x) + 6 * x * np.sin(x)


def _d3(x):
    return -(x**3) * np.cos(x) - 9 * x**2 * np.sin(x) + 18 * x * np.cos(x) + 6 * np.sin(x)


X = 1.3


def _fwd(f):
    """x -> f'(x) by forward mode."""
    return lambda x: cr.jvp(f, (x,), (1.0,))[1]


def test_grad_of_grad_of_grad_matches_analytic():
    x = cr.tensor(X, dtype=cr.float64)
    assert cr.grad(_f)(x).item() == pytest.approx(_d1(X), rel=1e-12)
    assert cr.grad(cr.grad(_f))(x).item() == pytest.approx(_d2(X), rel=1e-12)
    assert cr.grad(cr.grad(cr.grad(_f)))(x).item() == pytest.approx(_d3(X), rel=1e-12)


def test_third_derivative_matches_torch():
    torch = _torch()
    xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = torch.sin(xt) * xt**3
    (g1,) = torch.autograd.grad(y, xt, create_graph=True)
    (g2,) = torch.autograd.grad(g1, xt, create_graph=True)
    (g3,) = torch.autograd.grad(g2, xt)
    got = cr.grad(cr.grad(cr.grad(_f)))(cr.tensor(X, dtype=cr.float64))
    assert got.item() == pytest.approx(g3.item(), rel=1e-12)


@pytest.mark.parametrize(
    "third",
    [
        cr.grad(cr.grad(cr.grad(_f))),
        _fwd(_fwd(_fwd(_f))),
        _fwd(cr.grad(_fwd(_f))),
        cr.grad(_fwd(cr.grad(_f))),
        _fwd(_fwd(cr.grad(_f))),
        cr.grad(cr.grad(_fwd(_f))),
    ],
    ids=["rrr", "fff", "frf", "rfr", "ffr", "rrf"],
)
def test_third_derivative_in_any_mix_of_modes(third):
    got = third(cr.tensor(X, dtype=cr.float64))
    assert got.item() == pytest.approx(_d3(X), rel=1e-12)


def test_fourth_derivative():
    x = cr.tensor(0.4, dtype=cr.float64)
    g4 = cr.grad(cr.grad(cr.grad(cr.grad(lambda x: cr.exp(2.0 * x)))))(x)
    assert g4.item() == pytest.approx(16 * np.exp(0.8), rel=1e-12)


def test_create_graph_backward_to_third_order():
    x = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    (x**4).backward(create_graph=True)
    g1, x.grad = x.grad, None
    g1.backward(create_graph=True)
    g2, x.grad = x.grad, None
    g2.backward()
    assert g1.item() == 32.0
    assert g2.item() == 48.0
    assert x.grad.item() == 48.0


def test_second_derivative_in_every_pair_of_modes():
    x = cr.tensor(X, dtype=cr.float64)
    pairs = {
        "reverse-over-reverse": cr.grad(cr.grad(_f)),
        "forward-over-reverse": _fwd(cr.grad(_f)),
        "reverse-over-forward": cr.grad(_fwd(_f)),
        "forward-over-forward": _fwd(_fwd(_f)),
    }
    for name, d2 in pairs.items():
        assert d2(x).item() == pytest.approx(_d2(X), rel=1e-12), name


def test_higher_order_keeps_float32():
    x = cr.tensor(0.5)
    assert cr.grad(cr.grad(cr.grad(_f)))(x).dtype == np.float32
    assert _fwd(cr.grad(_f))(x).dtype == np.float32


# ----- nesting without perturbation confusion -----


def test_grad_inside_grad():
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(1.0))(2.0).item() == 4.0
    # Siskind & Pearlmutter's example: d/dx [x * d/dy (x + y)] = 1 (confusion gives 2).
    assert cr.grad(lambda x: x * cr.grad(lambda y: x + y)(1.0))(2.0).item() == 1.0


def test_jvp_inside_jvp():
    def outer(x):
        return x * cr.jvp(lambda y: x * y, (1.0,), (1.0,))[1]

    value, tangent = cr.jvp(outer, (2.0,), (1.0,))
    assert value.item() == 4.0
    assert tangent.item() == 4.0

    def outer_sum(x):
        return x * cr.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    assert cr.jvp(outer_sum, (2.0,), (1.0,))[1].item() == 1.0


def test_jvp_of_grad():
    def f(x):
        return x * cr.grad(lambda y: x * y)(1.0)

    assert cr.jvp(f, (2.0,), (1.0,))[1].item() == 4.0
    assert cr.jvp(lambda x: x * cr.grad(lambda y: x + y)(1.0), (2.0,), (1.0,))[1].item() == 1.0


def test_grad_of_jvp():
    def f(x):
        return x * cr.jvp(lambda y: x * y, (1.0,), (1.0,))[1]

    assert cr.grad(f)(2.0).item() == 4.0
    g = cr.grad(lambda x: x * cr.jvp(lambda y: x + y, (1.0,), (1.0,))[1])(2.0)
    assert g.item() == 1.0


def test_nested_grads_with_vectors():
    def inner_norm_grad(w):
        return cr.grad(lambda v: (w * v * v).sum())(cr.ones(3))  # = 2 w

    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    g = cr.grad(lambda w: (inner_norm_grad(w) * w).sum())(w)  # d/dw sum(2 w^2) = 4 w
    np.testing.assert_allclose(g.cpu().numpy(), 4 * w)


# ----- Hessians against PyTorch -----


def test_hessian_against_torch(rng):
    torch = _torch()
    x = rng.standard_normal(4)
    W = rng.standard_normal((3, 4))

    def f(x):
        h = cr.tanh(cr.tensor(W) @ x)
        return cr.logsumexp(h) + (x**3).sum() * cr.sigmoid(x[0]) + cr.sqrt(x * x + 1.0).sum()

    def tf(x):
        h = torch.tanh(torch.tensor(W) @ x)
        return (torch.logsumexp(h, 0) + (x**3).sum() * torch.sigmoid(x[0])
                + torch.sqrt(x * x + 1.0).sum())

    want = _torch_hessian(tf, x)
    np.testing.assert_allclose(cr.hessian(f)(x).cpu().numpy(), want, rtol=1e-9, atol=1e-12)
    rev = cr.jacobian(cr.grad(f), mode="reverse")(x)
    np.testing.assert_allclose(rev.cpu().numpy(), want, rtol=1e-9, atol=1e-12)


def test_hessian_of_softmax_cross_entropy_against_torch(rng):
    torch = _torch()
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal((5, 3))
    y = np.array([0, 2, 1, 3, 0])

    def f(w):
        logp = cr.log_softmax(cr.tensor(x) @ w.reshape(3, 4), axis=1)
        return -logp[np.arange(5), y].mean() + 0.1 * (w * w).sum()

    def tf(w):
        logp = torch.log_softmax(torch.tensor(x) @ w.reshape(3, 4), dim=1)
        return -logp[torch.arange(5), torch.tensor(y)].mean() + 0.1 * (w * w).sum()

    want = _torch_hessian(tf, W.ravel())
    got = cr.hessian(f)(W.ravel())
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-9, atol=1e-12)


def test_nested_jvp_tells_apart_inputs_sharing_one_array():
    """f(x, y) = x * y at x and y the very same ndarray, and x times the array it wraps: each
    saved value keeps its own input's tangent (HIPS autograd's test_binary_ops test_mul)."""
    a = np.arange(1.0, 4.0)
    u, w = np.ones(3), np.full(3, 10.0)

    def mul(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        return x * y

    def inner(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        return cr.jvp(mul, (x, y), (u, w))[1]  # u * y + x * w

    for b in (a, a.copy()):
        np.testing.assert_allclose(cr.jvp(inner, (a, b), (u, w))[1].cpu().numpy(), 2 * u * w)

    def times_a(x: cr.Tensor) -> cr.Tensor:
        return cr.jvp(lambda x: x * a, (x,), (u,))[1]  # u * a, a constant

    np.testing.assert_allclose(cr.jvp(times_a, (a,), (w,))[1].cpu().numpy(), np.zeros(3))
    hess = cr.hessian(lambda x: cr.sum(x * a * x))(a)
    np.testing.assert_allclose(hess.cpu().numpy(), np.diag(2 * a))
