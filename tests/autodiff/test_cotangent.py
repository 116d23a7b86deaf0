"""The function cr.vjp returns is differentiable in its cotangent (and the primal at once), with
every transform outside it, to any order; so is Tensor.backward's grad (issue 7, section 1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

F64 = cr.float64
B = np.array([1.0, 2.0])
X = np.array([0.5, -1.0])
V = np.array([1.0, 3.0])


def t(a: Any, **kw: Any) -> cr.Tensor:
    return cr.tensor(np.asarray(a, dtype=np.float64), dtype=F64, **kw)


def lin(x: Any, v: Any) -> cr.Tensor:
    """vjp of x -> x * b at x, applied to v: v * b (linear in v, constant in x)."""
    return cr.vjp(lambda x: x * t(B), x)[1](v)[0]


def quad(x: Any, v: Any) -> cr.Tensor:
    """vjp of x -> x^3 * b at x, applied to v: 3 x^2 b v."""
    return cr.vjp(lambda x: x * x * x * t(B), x)[1](v)[0]


def test_issue_example_jvp_wrt_cotangent() -> None:
    out, d = cr.jvp(lin, (t(X), t(V)), (cr.zeros(2, dtype=F64), cr.ones(2, dtype=F64)))
    np.testing.assert_allclose(out.cpu().numpy(), V * B)
    np.testing.assert_allclose(d.cpu().numpy(), B)


def test_jvp_wrt_primal_and_cotangent_at_once() -> None:
    u, dv = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    d = cr.jvp(quad, (t(X), t(V)), (u, dv))[1]
    np.testing.assert_allclose(d.cpu().numpy(), 6 * X * B * V * u + 3 * X**2 * B * dv)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_wrt_cotangent(mode: str) -> None:
    jx, jv = cr.jacobian(quad, (0, 1), mode=mode)(t(X), t(V))
    np.testing.assert_allclose(jx.cpu().numpy(), np.diag(6 * X * B * V))
    np.testing.assert_allclose(jv.cpu().numpy(), np.diag(3 * X**2 * B))


def test_grad_and_hessian_wrt_cotangent() -> None:
    def s(x: Any, v: Any) -> Any:
        return (quad(x, v) ** 2).sum()  # sum 9 x^4 b^2 v^2

    np.testing.assert_allclose(cr.grad(s, 1)(t(X), t(V)).cpu().numpy(), 18 * X**4 * B**2 * V)
    hv = cr.hessian(s, 1)(t(X), t(V))
    np.testing.assert_allclose(hv.cpu().numpy(), np.diag(18 * X**4 * B**2))
    # mixed: d/dx d/dv
    hxv = cr.jacobian(cr.grad(s, 1), 0)(t(X), t(V))
    np.testing.assert_allclose(hxv.cpu().numpy(), np.diag(72 * X**3 * B**2 * V))


def test_vjp_fn_made_outside_the_outer_transform() -> None:
    """vjp_fn built with no outer transform, then differentiated in v by each transform."""
    _, fn = cr.vjp(lambda x: x * x * x * t(B), t(X))
    w = np.array([2.0, -1.0])
    (g,) = cr.vjp(lambda v: fn(v)[0], t(V))[1](t(w))
    np.testing.assert_allclose(g.cpu().numpy(), 3 * X**2 * B * w)
    np.testing.assert_allclose(cr.grad(lambda v: (fn(v)[0] * t(w)).sum())(t(V)).cpu().numpy(),
                               3 * X**2 * B * w)
    np.testing.assert_allclose(cr.jvp(lambda v: fn(v)[0], (t(V),), (w,))[1].cpu().numpy(),
                               3 * X**2 * B * w)
    np.testing.assert_allclose(cr.jacobian(lambda v: fn(v)[0], mode="forward")(t(V)).cpu().numpy(),
                               np.diag(3 * X**2 * B))
    # a plain cotangent still gives a plain result
    (plain,) = fn(V)
    assert not plain.requires_grad
    assert plain._tangents is None


def test_third_order_through_the_cotangent() -> None:
    """d/dv d/dx d/dx of <v, x^3 b>: each order through a different transform."""
    def g(x: Any, v: Any) -> Any:
        return quad(x, v).sum()  # sum 3 x^2 b v

    gx = cr.grad(g, 0)  # 6 x b v
    jxx = cr.jacobian(gx, 0, mode="reverse")  # diag(6 b v)
    d = cr.jvp(lambda v: jxx(t(X), v), (t(V),), (np.array([1.0, 1.0]),))[1]
    np.testing.assert_allclose(d.cpu().numpy(), np.diag(6 * B))
    # and with vjp outermost
    (gv,) = cr.vjp(lambda v: jxx(t(X), v), t(V))[1](t(np.eye(2)))
    np.testing.assert_allclose(gv.cpu().numpy(), 6 * B)


def test_backward_grad_with_tangents() -> None:
    """Tensor.backward(grad) inside a jvp: grad's tangent reaches the leaves' .grad."""
    def f(x: Any, v: Any) -> Any:
        leaf = cr.tensor(X, dtype=F64, requires_grad=True)
        y = leaf * leaf * x
        y.backward(v)
        return leaf.grad  # 2 leaf x v

    d = cr.jvp(f, (t(B), t(V)), (np.zeros(2), np.ones(2)))[1]
    np.testing.assert_allclose(d.cpu().numpy(), 2 * X * B)
    d = cr.jvp(f, (t(B), t(V)), (np.ones(2), np.ones(2)))[1]
    np.testing.assert_allclose(d.cpu().numpy(), 2 * X * B + 2 * X * V)


def test_double_backward_through_grad_outputs_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x = cr.tensor(X, dtype=F64, requires_grad=True)
    v = cr.tensor(V, dtype=F64, requires_grad=True)
    y = cr.sin(x) * x
    y.backward(v, create_graph=True)
    gx = x.grad
    assert gx.requires_grad
    x.grad = None
    (gx * gx).sum().backward()
    tx = torch.tensor(X, requires_grad=True)
    tv = torch.tensor(V, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.sin(tx) * tx, tx, tv, create_graph=True)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(gx.detach().cpu().numpy(), tg.detach().cpu().numpy())
    np.testing.assert_allclose(v.grad.cpu().numpy(), tv.grad.cpu().numpy())
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy())
