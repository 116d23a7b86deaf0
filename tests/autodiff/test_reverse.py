"""Reverse mode through Tensor.backward: graph walk, accumulation, freeing, masked gradients."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import chainrule as cr


def test_long_chain_backpropagates_without_recursion():
    limit = sys.getrecursionlimit()
    x = cr.tensor(1.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y = y * 2.0
    y.backward(retain_graph=True)
    assert x.grad.item() == 2.0
    assert y.item() == pytest.approx(2 * 100_001.5)
    assert sys.getrecursionlimit() == limit
    del y  # freeing the long retained chain must not recurse either


def test_value_used_by_several_ops_gets_summed_gradients():
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x * x + 3.0 * x - cr.sin(x) * x).sum()
    y.backward()
    xn = x.cpu().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * xn + 3 - np.cos(xn) * xn - np.sin(xn),
                               rtol=1e-6)


def test_diamond_graph():
    x = cr.tensor(0.7, requires_grad=True)
    a = cr.exp(x)
    b = a * a + cr.sin(a)  # a reaches b along two paths
    b.backward()
    e = np.exp(0.7)
    assert x.grad.item() == pytest.approx(2 * e * e + np.cos(e) * e, rel=1e-6)


def test_leaf_grad_accumulates_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    x.sum().backward()
    x.sum().backward()  # the first .grad must not be a read-only broadcast view
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, 2.0])


def test_leaf_used_twice_in_one_backward_has_one_grad_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    (x + w).sum().backward()
    assert x.grad is not w.grad
    x.grad[0] = 100.0
    assert w.grad.cpu().numpy()[0] == 1.0


def test_grad_is_c_contiguous_in_parameter_layout():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    W = cr.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(5, np.float32), requires_grad=True)
    (x @ W.T + b).sum().backward()
    assert W.grad.shape == (5, 3)
    assert W.grad._data.flags.c_contiguous
    assert b.grad._data.flags.c_contiguous
    np.testing.assert_allclose(W.grad.cpu().numpy(), np.tile(x.cpu().numpy().sum(0), (5, 1)),
                               rtol=1e-6)
    # A Fortran-ordered parameter still gets a C-contiguous gradient of its own shape.
    F = cr.tensor(np.asfortranarray(rng.standard_normal((3, 2)).astype(np.float32)),
                  requires_grad=True)
    (x @ F).sum().backward()
    assert F.grad.shape == (3, 2)
    assert F.grad._data.flags.c_contiguous
    # Transposes and broadcasts inside the graph do not leak strides into .grad.
    T = cr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    (cr.broadcast_to(T.T, (2, 4, 3)) * 2.0).sum().backward()
    assert T.grad._data.flags.c_contiguous
    np.testing.assert_array_equal(T.grad.cpu().numpy(), np.full((3, 4), 4.0))


def test_second_backward_raises_without_retain_graph():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor(2.0, requires_grad=True)
    y = x**3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 12.0)


def test_create_graph_allows_differentiating_the_gradient():
    x = cr.tensor(2.0, requires_grad=True)
    y = x**3 + cr.sin(x)
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    assert g.item() == pytest.approx(12.0 + np.cos(2.0), rel=1e-6)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0 - np.sin(2.0), rel=1e-6)


def test_no_grad_records_nothing():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2 + cr.exp(x)
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad
    assert y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_on_non_scalar_needs_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(cr.ones(3))
    y.backward(cr.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, 40.0])


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError):
        cr.tensor(1.0).backward()


def test_gradients_only_for_leaves_that_require_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    h = x * c
    (h * h).sum().backward()
    assert c.grad is None
    assert h.grad is None
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * x.cpu().numpy() * c.cpu().numpy()**2)


def test_detach_stops_gradient():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x.detach()).backward()
    assert x.grad.item() == 3.0


def test_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [3.0, 0.0, 1.0])


def test_grad_dtype_follows_leaf():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float64


# ----- safe gradients through masks -----

_X = np.array([-1.0, 0.0, 4.0], dtype=np.float32)

# name -> (masked function, expected first derivative, expected second derivative)
MASKED = {
    "sqrt": (lambda x: cr.where(x > 0, cr.sqrt(x), 0.0),
             [0.0, 0.0, 0.25], [0.0, 0.0, -1 / 32]),
    "log": (lambda x: cr.where(x > 0, cr.log(x), 0.0),
            [0.0, 0.0, 0.25], [0.0, 0.0, -1 / 16]),
    "div": (lambda x: cr.where(x != 0, 1.0 / x, 0.0),
            [-1.0, 0.0, -1 / 16], [-2.0, 0.0, 2 / 64]),
    "pow_scalar": (lambda x: cr.where(x > 0, x**1.5, 0.0),
                   [0.0, 0.0, 3.0], [0.0, 0.0, 0.375]),
    "pow_negative_base": (lambda x: cr.where(x > 0, x ** cr.tensor([0.5, 0.5, 0.5]), 0.0),
                          [0.0, 0.0, 0.25], [0.0, 0.0, -1 / 32]),
    "pow_fractional": (lambda x: cr.where(x > 0, x**0.5, 0.0),
                       [0.0, 0.0, 0.25], [0.0, 0.0, -1 / 32]),
}


@pytest.mark.parametrize("name", MASKED)
def test_masked_gradient_reverse(name):
    f, d1, _ = MASKED[name]
    x = cr.tensor(_X, requires_grad=True)
    f(x).sum().backward()
    assert np.isfinite(x.grad.cpu().numpy()).all()
    np.testing.assert_allclose(x.grad.cpu().numpy(), d1, rtol=1e-6)
    np.testing.assert_allclose(cr.grad(lambda x: f(x).sum())(_X).cpu().numpy(), d1, rtol=1e-6)


@pytest.mark.parametrize("name", MASKED)
def test_masked_gradient_forward(name):
    f, d1, _ = MASKED[name]
    _, tangent = cr.jvp(f, (_X,), (np.ones(3, np.float32),))
    assert np.isfinite(tangent.cpu().numpy()).all()
    np.testing.assert_allclose(tangent.cpu().numpy(), d1, rtol=1e-6)
    jac = cr.jacobian(f, mode="forward")(_X)
    np.testing.assert_allclose(jac.cpu().numpy(), np.diag(d1), rtol=1e-6)


@pytest.mark.parametrize("name", MASKED)
def test_masked_gradient_second_order(name):
    f, _, d2 = MASKED[name]

    def total(x):
        return f(x).sum()

    hess = cr.hessian(total)(_X)  # forward over reverse
    np.testing.assert_allclose(hess.cpu().numpy(), np.diag(d2), rtol=1e-5)
    rev = cr.jacobian(cr.grad(total), mode="reverse")(_X)  # reverse over reverse
    np.testing.assert_allclose(rev.cpu().numpy(), np.diag(d2), rtol=1e-5)
    for i, xi in enumerate(_X):
        def scalar(s, i=i):
            return f(s * np.ones(3, np.float32))[i]

        g2 = cr.grad(cr.grad(scalar))(cr.tensor(xi)).item()
        assert g2 == pytest.approx(d2[i], rel=1e-5)
        x = cr.tensor(_X, requires_grad=True)
        f(x).sum().backward(create_graph=True)
        g = x.grad
        x.grad = None
        g[i].backward()
        assert np.isfinite(x.grad.cpu().numpy()).all()
        np.testing.assert_allclose(x.grad.cpu().numpy()[i], d2[i], rtol=1e-5)


def test_zero_cotangent_times_infinite_derivative_is_zero():
    x = cr.tensor([0.0, 0.0, 1.0], requires_grad=True)
    y = cr.sqrt(x)
    y.backward(cr.tensor([0.0, 1.0, 0.0]))
    assert x.grad.cpu().numpy()[0] == 0.0  # 0 * inf -> 0
    assert x.grad.cpu().numpy()[1] == np.inf  # a real infinite derivative stays infinite
    assert x.grad.cpu().numpy()[2] == 0.0
    _, t = cr.jvp(cr.log, (cr.tensor([0.0, 2.0]),), (np.array([0.0, 1.0], np.float32),))
    np.testing.assert_array_equal(t.cpu().numpy(), [0.0, 0.5])
    (g,) = cr.vjp(lambda x: 1.0 / x, cr.tensor([0.0]))[1](cr.tensor([0.0]))
    np.testing.assert_array_equal(g.cpu().numpy(), [0.0])
