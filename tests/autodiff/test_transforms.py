"""Function transforms: grad, value_and_grad, vjp, jacobian (three modes), hessian."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import chainrule as cr


def _loss(w, x):
    return cr.sum(cr.tanh(x @ w) ** 2)


def _loss_grads(w, x):
    t = np.tanh(x @ w)
    gz = 2 * t * (1 - t**2)
    return x.T @ gz, gz @ w.T


@pytest.fixture
def wx(rng):
    return rng.standard_normal((3, 2)), rng.standard_normal((4, 3))


# ----- grad and value_and_grad -----


def test_grad_default_argnum(wx):
    w, x = wx
    g = cr.grad(_loss)(w, x)
    assert isinstance(g, cr.Tensor)
    assert g.shape == w.shape
    np.testing.assert_allclose(g.cpu().numpy(), _loss_grads(w, x)[0], rtol=1e-10)


def test_grad_argnums_int_tuple_and_negative(wx):
    w, x = wx
    gw, gx = _loss_grads(w, x)
    np.testing.assert_allclose(cr.grad(_loss, argnums=1)(w, x).cpu().numpy(), gx, rtol=1e-10)
    np.testing.assert_allclose(cr.grad(_loss, argnums=-1)(w, x).cpu().numpy(), gx, rtol=1e-10)
    both = cr.grad(_loss, argnums=(0, 1))(w, x)
    assert isinstance(both, tuple)
    assert len(both) == 2
    np.testing.assert_allclose(both[0].cpu().numpy(), gw, rtol=1e-10)
    np.testing.assert_allclose(both[1].cpu().numpy(), gx, rtol=1e-10)
    (only,) = cr.grad(_loss, argnums=(1,))(w, x)
    np.testing.assert_allclose(only.cpu().numpy(), gx, rtol=1e-10)


def test_value_and_grad(wx):
    w, x = wx
    value, g = cr.value_and_grad(_loss)(w, x)
    assert value.item() == pytest.approx(np.sum(np.tanh(x @ w) ** 2))
    np.testing.assert_allclose(g.cpu().numpy(), _loss_grads(w, x)[0], rtol=1e-10)
    value, (_, gx) = cr.value_and_grad(_loss, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(gx.cpu().numpy(), _loss_grads(w, x)[1], rtol=1e-10)
    assert not value.requires_grad


def test_has_aux(wx):
    w, x = wx

    def f(w, x):
        z = x @ w
        return cr.sum(cr.tanh(z) ** 2), {"z": z, "n": 3}

    (value, aux), g = cr.value_and_grad(f, has_aux=True)(w, x)
    np.testing.assert_allclose(aux["z"].cpu().numpy(), x @ w)
    assert aux["n"] == 3
    assert value.item() == pytest.approx(np.sum(np.tanh(x @ w) ** 2))
    np.testing.assert_allclose(g.cpu().numpy(), _loss_grads(w, x)[0], rtol=1e-10)
    g2, aux2 = cr.grad(f, has_aux=True)(w, x)
    np.testing.assert_allclose(g2.cpu().numpy(), g.cpu().numpy())
    assert aux2["n"] == 3


def test_grad_accepts_tensors_arrays_and_scalars():
    def f(x):
        return x**3

    assert cr.grad(f)(2.0).item() == 12.0
    assert cr.grad(f)(np.float64(2.0)).item() == 12.0
    assert cr.grad(f)(cr.tensor(2.0)).item() == 12.0
    assert cr.grad(f)(np.array(2.0)).dtype == np.float64
    assert cr.grad(f)(2.0).dtype == np.float32


def test_grad_leaves_dot_grad_alone():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.grad(lambda x: (x * x).sum())(x)
    np.testing.assert_allclose(g.cpu().numpy(), [2.0, 4.0])
    assert x.grad is None


def test_grad_of_function_ignoring_input_is_zero():
    g = cr.grad(lambda x, y: cr.sum(y * 2.0))(np.ones(3), np.ones(2))
    np.testing.assert_array_equal(g.cpu().numpy(), np.zeros(3))
    g = cr.grad(lambda x: cr.tensor(1.0))(np.ones(3))
    np.testing.assert_array_equal(g.cpu().numpy(), np.zeros(3))


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x * 2.0,  # not a scalar
        lambda x: (x > 0).sum(),  # integer result
        lambda x: x.sum() > 0,  # bool result
        lambda x: 3,  # a Python int (a Python float is a constant: zero gradient, as JAX)
        lambda x: np.ones(3),  # a constant, but not a scalar
    ],
    ids=["vector", "integer", "bool", "python-int", "ndarray-vector"],
)
def test_grad_of_non_float_scalar_raises_type_error(f):
    with pytest.raises(TypeError, match="grad"):
        cr.grad(f)(np.ones(3))


def test_grad_with_integer_input_raises():
    with pytest.raises(TypeError):
        cr.grad(lambda x: x.sum())(np.arange(3))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(lambda x: x.sum(), argnums=1)(np.ones(2))


# ----- vjp -----


def test_vjp_returns_tuple_per_primal(wx):
    w, x = wx

    def f(w, x):
        return cr.tanh(x @ w)

    out, vjp_fn = cr.vjp(f, w, x)
    np.testing.assert_allclose(out.cpu().numpy(), np.tanh(x @ w))
    ct = np.ones((4, 2))
    grads = vjp_fn(ct)
    assert isinstance(grads, tuple)
    assert len(grads) == 2
    gz = 1 - np.tanh(x @ w) ** 2
    np.testing.assert_allclose(grads[0].cpu().numpy(), x.T @ gz, rtol=1e-10)
    np.testing.assert_allclose(grads[1].cpu().numpy(), gz @ w.T, rtol=1e-10)


def test_vjp_fn_can_be_called_several_times_and_batched(wx, rng):
    w, x = wx
    _, vjp_fn = cr.vjp(lambda w: cr.tanh(x @ w), w)
    cts = rng.standard_normal((5, 4, 2))
    singles = [vjp_fn(ct)[0].cpu().numpy() for ct in cts]
    (batched,) = vjp_fn(cts)
    assert batched.shape == (5, 3, 2)
    for k in range(5):
        np.testing.assert_allclose(batched.cpu().numpy()[k], singles[k], rtol=1e-10)
    again = vjp_fn(cts[0])[0].cpu().numpy()
    np.testing.assert_allclose(again, singles[0])


def test_vjp_cotangent_shape_error():
    _, vjp_fn = cr.vjp(cr.sin, np.ones(3))
    with pytest.raises(ValueError, match="cotangent"):
        vjp_fn(np.ones(4))


def test_vjp_scalar_primal():
    out, vjp_fn = cr.vjp(lambda x: x**2, 3.0)
    assert out.item() == 9.0
    assert vjp_fn(1.0)[0].item() == 6.0


# ----- jacobian -----


def _vec(x):
    """R^(2,3) -> R^4, not elementwise."""
    flat = x.reshape(-1)
    return cr.stack([flat.sum(), (flat * flat).sum(), cr.sin(x).max(), cr.exp(x[0]).prod()])


@pytest.mark.parametrize(
    ("f", "shape"),
    [
        (_vec, (2, 3)),
        (lambda x: cr.outer(x, x), (3,)),
        (lambda x: cr.sin(x).sum(), (2, 2)),
        (lambda x: x * 2.0, ()),
    ],
)
def test_jacobian_modes_agree_and_have_right_shape(f, shape, rng):
    x = rng.uniform(0.2, 1.0, shape)
    out = f(cr.tensor(x))
    jacs = {mode: cr.jacobian(f, mode=mode)(x) for mode in ("forward", "reverse", "auto")}
    for mode, jac in jacs.items():
        assert jac.shape == out.shape + x.shape, mode
    numeric = cr.numerical_jacobian(f, (x,))[0]
    for mode, jac in jacs.items():
        np.testing.assert_allclose(jac.cpu().numpy(), numeric, rtol=1e-6, atol=1e-8, err_msg=mode)


def test_jacobian_argnums_tuple():
    def f(a, b):
        return a * b.sum()

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    ja, jb = cr.jacobian(f, argnums=(0, 1))(a, b)
    assert ja.shape == (2, 2)
    assert jb.shape == (2, 3)
    np.testing.assert_allclose(ja.cpu().numpy(), 12.0 * np.eye(2))
    np.testing.assert_allclose(jb.cpu().numpy(), np.tile(a[:, None], (1, 3)))


def test_jacobian_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        cr.jacobian(cr.sin, mode="sideways")


class _CountingSquare(cr.Function):
    """x**2 that counts how often each rule runs."""

    calls: ClassVar[dict[str, int]] = {"vjp": 0, "jvp": 0}

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def vjp(ctx, g):
        _CountingSquare.calls["vjp"] += 1
        (x,) = ctx.saved
        return 2 * g * x

    @staticmethod
    def jvp(ctx, dx):
        _CountingSquare.calls["jvp"] += 1
        (x,) = ctx.saved
        return 2 * x * dx


@pytest.mark.parametrize(
    ("n", "m", "used"),
    [(2, 5, "jvp"), (5, 2, "vjp")],
    ids=["fewer-inputs-forward", "fewer-outputs-reverse"],
)
def test_jacobian_auto_picks_mode_by_size(n, m, used):
    A = np.arange(float(m * n)).reshape(m, n) / 10

    def f(x):
        return cr.tensor(A) @ _CountingSquare.apply(x)

    x = np.linspace(0.5, 1.5, n)
    _CountingSquare.calls.update(vjp=0, jvp=0)
    jac = cr.jacobian(f, mode="auto")(x)
    np.testing.assert_allclose(jac.cpu().numpy(), A * (2 * x), rtol=1e-12)
    other = "vjp" if used == "jvp" else "jvp"
    assert _CountingSquare.calls[used] == 1  # the whole basis in one batched pass
    assert _CountingSquare.calls[other] == 0


# ----- hessian -----


def test_hessian_quadratic_form(rng):
    A = rng.standard_normal((3, 3))
    H = cr.hessian(lambda x: x @ (cr.tensor(A) @ x))(rng.standard_normal(3))
    np.testing.assert_allclose(H.cpu().numpy(), A + A.T, rtol=1e-12)


def test_hessian_shape_for_matrix_input(rng):
    x = rng.standard_normal((2, 3))
    H = cr.hessian(lambda x: (cr.sin(x) * x).sum())(x)
    assert H.shape == (2, 3, 2, 3)
    want = np.diag((2 * np.cos(x) - x * np.sin(x)).ravel()).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(H.cpu().numpy(), want, rtol=1e-10, atol=1e-12)

