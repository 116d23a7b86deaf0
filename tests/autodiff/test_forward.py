"""Forward mode (cr.jvp): J·v in one pass, no reverse graph, batched tangents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.autodiff.reverse as reverse_module


def _f(x):
    return cr.sin(x) * x**2 + cr.exp(-x) / (1.0 + x * x)


def _df(x):
    return (np.cos(x) * x**2 + 2 * x * np.sin(x) - np.exp(-x) / (1 + x * x)
            - np.exp(-x) * 2 * x / (1 + x * x) ** 2)


def test_jvp_is_jacobian_times_tangent():
    x = np.array([0.3, -1.2, 2.0], dtype=np.float64)
    v = np.array([1.0, -2.0, 0.5])
    out, t = cr.jvp(_f, (x,), (v,))
    np.testing.assert_allclose(out.cpu().numpy(), _f(cr.tensor(x)).cpu().numpy())
    np.testing.assert_allclose(t.cpu().numpy(), _df(x) * v, rtol=1e-10)


def test_jvp_of_non_elementwise_function_matches_reverse_jacobian():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    v = rng.standard_normal(3)

    def f(x):
        h = cr.tanh(cr.tensor(W) @ x)
        return cr.softmax(h, axis=0) * cr.logsumexp(h)

    _, t = cr.jvp(f, (x,), (v,))
    jac = cr.jacobian(f, mode="reverse")(x)
    np.testing.assert_allclose(t.cpu().numpy(), jac.cpu().numpy() @ v, rtol=1e-10, atol=1e-12)


def test_jvp_with_several_primals():
    def f(x, y):
        return x * y + cr.exp(x) - y**2

    x, y = np.array([0.5, 1.0]), np.array([2.0, -1.0])
    dx, dy = np.array([1.0, 0.0]), np.array([0.5, 2.0])
    out, t = cr.jvp(f, (x, y), (dx, dy))
    np.testing.assert_allclose(out.cpu().numpy(), x * y + np.exp(x) - y**2)
    np.testing.assert_allclose(t.cpu().numpy(), dx * y + x * dy + np.exp(x) * dx - 2 * y * dy)


def test_jvp_accepts_scalars_and_arrays_and_returns_tensors():
    out, t = cr.jvp(lambda x: x * x, (3.0,), (1.0,))
    assert isinstance(out, cr.Tensor)
    assert isinstance(t, cr.Tensor)
    assert out.item() == 9.0
    assert t.item() == 6.0
    assert out.dtype == t.dtype == np.float32


def test_jvp_builds_no_reverse_graph():
    seen = []

    def f(x):
        h = cr.sin(x) * x
        seen.append(h)
        return h.sum()

    out, t = cr.jvp(f, (cr.tensor([1.0, 2.0]),), (cr.tensor([1.0, 0.0]),))
    assert not out.requires_grad
    assert out.is_leaf
    assert not t.requires_grad
    assert t.is_leaf
    assert not seen[0].requires_grad
    assert seen[0].is_leaf
    with pytest.raises(RuntimeError):
        out.backward()


def test_jvp_runs_no_backward_pass(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("forward mode must not run a backward pass")

    monkeypatch.setattr(reverse_module, "run", refuse)
    monkeypatch.setattr(reverse_module, "backward", refuse)
    x = np.array([0.3, -1.2, 2.0])
    _, t = cr.jvp(_f, (x,), (np.ones(3),))
    np.testing.assert_allclose(t.cpu().numpy(), _df(x), rtol=1e-10)
    jac = cr.jacobian(_f, mode="forward")(x)
    np.testing.assert_allclose(jac.cpu().numpy(), np.diag(_df(x)), rtol=1e-10)


def test_survey_function_tangent_trace():
    """Baydin et al., 'Automatic differentiation in machine learning: a survey', Table 2."""

    def trace(x1, x2):
        v1 = cr.log(x1)
        v2 = x1 * x2
        v3 = cr.sin(x2)
        v4 = v1 + v2
        v5 = v4 - v3
        return cr.stack([v1, v2, v3, v4, v5])

    x1 = cr.tensor(2.0, dtype=cr.float64)
    x2 = cr.tensor(5.0, dtype=cr.float64)
    out, t = cr.jvp(trace, (x1, x2), (1.0, 0.0))
    np.testing.assert_allclose(out.cpu().numpy(), [0.693, 10.0, -0.959, 10.693, 11.652], atol=5e-4)
    np.testing.assert_allclose(t.cpu().numpy(), [0.5, 5.0, 0.0, 5.5, 5.5], atol=1e-12)
    _, t2 = cr.jvp(trace, (x1, x2), (0.0, 1.0))
    np.testing.assert_allclose(t2.cpu().numpy()[-1], 2.0 - np.cos(5.0))
    # Reverse mode gives both partials at once (the survey's adjoint trace).
    g1, g2 = cr.grad(lambda a, b: trace(a, b)[-1], argnums=(0, 1))(x1, x2)
    assert g1.item() == pytest.approx(5.5)
    assert g2.item() == pytest.approx(1.716, abs=5e-4)


def test_tangents_are_cast_to_the_primal_dtype():
    x = cr.tensor([1.0, 2.0])
    _, t = cr.jvp(lambda x: x * 3.0, (x,), (np.array([1.0, 1.0]),))
    assert t.dtype == np.float32


def test_unused_input_gives_zero_tangent():
    primals, tangents = (np.ones((2, 3)), np.ones(4)), (np.zeros((2, 3)), np.ones(4))
    _, t = cr.jvp(lambda x, y: x * 2.0, primals, tangents)
    assert t.shape == (2, 3)
    assert (t.cpu().numpy() == 0).all()
    _, t = cr.jvp(lambda x: cr.ones(2, 2), (1.0,), (1.0,))
    assert t.shape == (2, 2)
    assert (t.cpu().numpy() == 0).all()


def test_jvp_argument_errors():
    with pytest.raises(ValueError, match="tangent"):
        cr.jvp(cr.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="primals"):
        cr.jvp(cr.sin, (np.ones(3),), ())
    with pytest.raises(TypeError, match="must return a Tensor"):
        cr.jvp(lambda x: "1.0", (np.ones(3),), (np.ones(3),))
    # an output that does not depend on the input has tangent 0, as in JAX
    _, t = cr.jvp(lambda x: 1.0, (np.ones(3),), (np.ones(3),))
    assert t.item() == 0.0


BROADCASTING = {
    "add_column_scalar": lambda x: x.reshape(3, 1) + x.sum(),
    "mul_column_row": lambda x: x.reshape(3, 1) * x,
    "sub_rank3": lambda x: x.reshape(3, 1, 1) - x,
    "div_column": lambda x: x.reshape(3, 1) / (x + 3.0),
    "pow_column": lambda x: (x.reshape(3, 1) ** 2 + 1.0) ** x,
    "where_column": lambda x: cr.where(x.reshape(3, 1) > 0, x.reshape(3, 1), x[0] * x),
    "maximum_column": lambda x: cr.maximum(x.reshape(3, 1), x[0]),
    "matmul_batched_by_matrix": lambda x: cr.tensor(np.arange(24.0).reshape(2, 3, 4) / 10)
    @ cr.outer(cr.ones(4, dtype=cr.float64), x),
    "matmul_matrix_by_batched": lambda x: (x.reshape(3, 1) * x).reshape(1, 3, 3)
    @ cr.tensor(np.ones((2, 3, 2))),
}


@pytest.mark.parametrize("name", BROADCASTING)
def test_batched_tangents_equal_separate_ones(name):
    f = BROADCASTING[name]
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, 3)
    tangents = rng.standard_normal((4, 3))
    _, batched = cr.jvp(f, (x,), (tangents,))
    for k in range(4):
        _, single = cr.jvp(f, (x,), (tangents[k],))
        assert batched.shape[1:] == single.shape
        np.testing.assert_allclose(batched.cpu().numpy()[k], single.cpu().numpy(), rtol=1e-10,
                                   atol=1e-12)
    forward = cr.jacobian(f, mode="forward")(x)
    reverse = cr.jacobian(f, mode="reverse")(x)
    np.testing.assert_allclose(forward.cpu().numpy(), reverse.cpu().numpy(), rtol=1e-10, atol=1e-12)


_vectors = hnp.arrays(np.float64, 4, elements=st.floats(-2, 2))


def _g(x):
    return cr.tanh(x) * cr.sum(x * x) + cr.softplus(x[::-1]) * 0.5


@settings(max_examples=25, deadline=None)
@given(x=_vectors, u=_vectors, v=_vectors)
def test_adjoint_identity(x, u, v):
    """<v, J u> from forward mode equals <J^T v, u> from reverse mode."""
    _, ju = cr.jvp(_g, (x,), (u,))
    _, vjp_fn = cr.vjp(_g, x)
    (jtv,) = vjp_fn(v)
    assert float(np.dot(v, ju.cpu().numpy())) == pytest.approx(
        float(np.dot(jtv.cpu().numpy(), u)), rel=1e-9, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(x=_vectors, u=_vectors, v=_vectors, a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_tangents_are_linear(x, u, v, a, b):
    _, tu = cr.jvp(_g, (x,), (u,))
    _, tv = cr.jvp(_g, (x,), (v,))
    _, tw = cr.jvp(_g, (x,), (a * u + b * v,))
    np.testing.assert_allclose(tw.cpu().numpy(), a * tu.cpu().numpy() + b * tv.cpu().numpy(),
                               rtol=1e-9, atol=1e-9)
