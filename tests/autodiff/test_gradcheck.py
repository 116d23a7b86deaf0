"""gradcheck and numerical_jacobian: the finite-difference oracle and its error reports."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import like


@pytest.mark.parametrize(
    ("f", "shapes"),
    [
        (lambda x: cr.sin(x) * x, [(3,)]),
        (lambda a, b: cr.tanh(a @ b), [(2, 3), (3, 4)]),
        (lambda x: cr.softmax(x, axis=1), [(2, 3)]),
        (lambda x: cr.logsumexp(x, axis=0), [(3, 2)]),
        (lambda a, b: (a * b).sum() / (1.0 + b.max()), [(2, 2), (2, 2)]),
    ],
)
def test_gradcheck_passes_for_correct_functions(f, shapes, rng):
    inputs = [rng.uniform(0.3, 1.2, s) for s in shapes]
    assert cr.gradcheck(f, inputs) is True


def test_gradcheck_works_from_float32_inputs(rng):
    x = cr.tensor(rng.uniform(0.5, 1.5, 4).astype(np.float32))
    assert cr.gradcheck(lambda x: cr.log(x) * cr.exp(x), (x,)) is True
    assert cr.gradcheck(cr.sqrt, x) is True  # a single input needs no tuple


class _WrongAtTwo(cr.Function):
    """x**2 whose reverse rule is off at element 2 only (forward rule right)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.saved
        bump = like((np.arange(x.size).reshape(x.shape) == 2).astype(x.dtype), x)
        return g * (2 * x + bump)

    @staticmethod
    def jvp(ctx, dx):
        (x,) = ctx.saved
        return 2 * x * dx


class _WrongJvp(cr.Function):
    """x**2 whose forward rule is wrong everywhere (reverse rule right)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.saved
        return 2 * g * x

    @staticmethod
    def jvp(ctx, dx):
        (x,) = ctx.saved
        return 3 * x * dx


def test_gradcheck_names_input_and_element_of_wrong_vjp():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(cr.GradcheckError, match="input 0") as info:
        cr.gradcheck(_WrongAtTwo.apply, (x,))
    msg = str(info.value)
    assert "element (2,)" in msg
    assert "reverse" in msg


def test_gradcheck_names_the_second_input():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([[1.0, 2.0], [3.0, 4.0]])  # flat element 2 of b is (1, 0)
    with pytest.raises(cr.GradcheckError, match="input 1") as info:
        cr.gradcheck(lambda a, b: (a.reshape(3, 1, 1) * _WrongAtTwo.apply(b)).sum(0), (a, b))
    assert "element (1, 0)" in str(info.value)


def test_gradcheck_catches_wrong_forward_rule():
    with pytest.raises(cr.GradcheckError, match="forward") as info:
        cr.gradcheck(_WrongJvp.apply, (np.array([1.0, 2.0]),))
    assert "input 0" in str(info.value)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(cr.GradcheckError, AssertionError)


def test_numerical_jacobian_shapes_and_values(rng):
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal(3)

    def f(a, b):
        return cr.stack([(a * b).sum(), (a**2).sum(), b.sum(), a[0, 0] * b[1]])

    ja, jb = cr.numerical_jacobian(f, (a, b))
    assert ja.shape == (4, 2, 3)
    assert jb.shape == (4, 3)
    np.testing.assert_allclose(ja[0], np.broadcast_to(b, (2, 3)), atol=1e-7)
    np.testing.assert_allclose(ja[1], 2 * a, atol=1e-7)
    np.testing.assert_allclose(jb[2], np.ones(3), atol=1e-7)
    np.testing.assert_allclose(jb[3], [0.0, a[0, 0], 0.0], atol=1e-7)
    (jx,) = cr.numerical_jacobian(lambda x: (x * x).sum(), (np.array([1.0, -2.0]),))
    assert jx.shape == (2,)
    np.testing.assert_allclose(jx, [2.0, -4.0], atol=1e-7)


def test_numerical_jacobian_is_float64(rng):
    x = cr.tensor(rng.standard_normal(3).astype(np.float32))
    (j,) = cr.numerical_jacobian(cr.sin, (x,))
    assert j.dtype == np.float64
    np.testing.assert_allclose(j, np.diag(np.cos(x.cpu().numpy().astype(np.float64))), atol=1e-7)
