"""Custom differentiable operations with cr.Function (the API.md Cube example and friends)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


class Cube(cr.Function):
    """The example from API.md, verbatim."""

    @staticmethod
    def forward(ctx, x):  # ndarrays in, ndarray out
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def vjp(ctx, g):  # reverse mode: cotangent in, one cotangent per input out
        (x,) = ctx.saved
        return g * 3 * x**2

    @staticmethod
    def jvp(ctx, dx):  # forward mode: one tangent per input in, output tangent out
        (x,) = ctx.saved
        return 3 * x**2 * dx


class MulAdd(cr.Function):
    """a * b + c with three inputs, in the library's own style (saved inputs, tuple of grads)."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.saved
        return g * b, g * a, g

    @staticmethod
    def jvp(ctx, da, db, dc):
        a, b = ctx.saved
        return da * b + a * db + dc


class Exp(cr.Function):
    """exp, saving its output (rules that use the output must stay differentiable)."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def vjp(ctx, g):
        (y,) = ctx.saved
        return g * y

    @staticmethod
    def jvp(ctx, dx):
        (y,) = ctx.saved
        return dx * y


X = np.array([0.5, -1.0, 2.0])


def test_cube_forward_value_and_dtype():
    y = Cube.apply(cr.tensor([1.0, 2.0]))
    assert isinstance(y, cr.Tensor)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.cpu().numpy(), [1.0, 8.0])
    assert not y.requires_grad


def test_cube_reverse():
    t = cr.tensor(X, requires_grad=True)
    y = Cube.apply(t)
    assert y.requires_grad
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), 3 * X**2)
    np.testing.assert_allclose(cr.grad(lambda x: Cube.apply(x).sum())(X).cpu().numpy(), 3 * X**2)


def test_cube_forward_mode():
    v = np.array([1.0, 2.0, -1.0])
    out, t = cr.jvp(Cube.apply, (X,), (v,))
    np.testing.assert_allclose(out.cpu().numpy(), X**3)
    np.testing.assert_allclose(t.cpu().numpy(), 3 * X**2 * v)


def test_cube_higher_order():
    x = cr.tensor(1.5, dtype=cr.float64)

    def f(x):
        return Cube.apply(x)

    assert cr.grad(cr.grad(f))(x).item() == pytest.approx(9.0)  # 6x
    assert cr.grad(cr.grad(cr.grad(f)))(x).item() == pytest.approx(6.0)
    assert cr.grad(cr.grad(cr.grad(cr.grad(f))))(x).item() == pytest.approx(0.0)
    _, t = cr.jvp(cr.grad(f), (x,), (1.0,))
    assert t.item() == pytest.approx(9.0)
    _, t = cr.jvp(lambda x: cr.jvp(f, (x,), (1.0,))[1], (x,), (1.0,))
    assert t.item() == pytest.approx(9.0)
    hess = cr.hessian(lambda x: Cube.apply(x).sum())(X)
    np.testing.assert_allclose(hess.cpu().numpy(), np.diag(6 * X))
    xt = cr.tensor(1.5, dtype=cr.float64, requires_grad=True)
    Cube.apply(xt).backward(create_graph=True)
    g, xt.grad = xt.grad, None
    g.backward()
    assert xt.grad.item() == pytest.approx(9.0)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_cube_jacobian(mode):
    jac = cr.jacobian(Cube.apply, mode=mode)(X)
    np.testing.assert_allclose(jac.cpu().numpy(), np.diag(3 * X**2))


def test_cube_gradcheck():
    assert cr.gradcheck(Cube.apply, (X,))
    assert cr.gradcheck(lambda x: Cube.apply(cr.sin(x)) * x, (X,))


def test_multi_input_function():
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([0.5, 0.5])
    assert cr.gradcheck(MulAdd.apply, (a, b, c))
    ga, gb, gc = cr.grad(lambda a, b, c: MulAdd.apply(a, b, c).sum(), argnums=(0, 1, 2))(a, b, c)
    np.testing.assert_allclose(ga.cpu().numpy(), b)
    np.testing.assert_allclose(gb.cpu().numpy(), a)
    np.testing.assert_allclose(gc.cpu().numpy(), [1.0, 1.0])
    H = cr.hessian(lambda a: MulAdd.apply(a, a, c).sum())(a)  # sum(a^2 + c)
    np.testing.assert_allclose(H.cpu().numpy(), 2 * np.eye(2))


def test_function_with_constant_inputs():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = MulAdd.apply(w, np.array([3.0, 4.0]), 1.0)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), [3.0, 4.0])


def test_function_saving_its_output_is_differentiable_twice():
    x = cr.tensor(0.3, dtype=cr.float64)
    f = Exp.apply
    assert cr.grad(f)(x).item() == pytest.approx(np.exp(0.3))
    assert cr.grad(cr.grad(f))(x).item() == pytest.approx(np.exp(0.3))
    assert cr.grad(cr.grad(cr.grad(f)))(x).item() == pytest.approx(np.exp(0.3))
    np.testing.assert_allclose(cr.hessian(lambda x: Exp.apply(x).sum())(X).cpu().numpy(),
                               np.diag(np.exp(X)))


def test_function_composes_with_builtin_ops():
    def f(x):
        return cr.tanh(Cube.apply(x * 0.5)).sum()

    x = X * 0.7
    g = cr.grad(f)(x)
    u = (x * 0.5) ** 3
    np.testing.assert_allclose(g.cpu().numpy(), (1 - np.tanh(u) ** 2) * 3 * (x * 0.5) ** 2 * 0.5)
    assert cr.gradcheck(f, (x,))
