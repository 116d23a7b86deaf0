"""torch.autograd on chainrule: grad, backward, functional, and Function with PyTorch's protocol
(forward/backward on Tensors, ctx.save_for_backward, needs_input_grad, mark_non_differentiable),
checked against real torch running the same class body."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch as real

import chainrule as cr
import chainrule.torch as ct

X = np.array([0.5, -1.5, 2.0, 1.0], np.float64)
Y = np.array([1.0, 2.0, -0.5, 0.25], np.float64)


def make_functions(torch: Any) -> dict[str, Any]:
    """The same custom Functions, written once, for either namespace."""

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x ** 3 * scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2 * ctx.scale, None

    class MulAdd(torch.autograd.Function):
        """Two outputs, one saved output, needs_input_grad."""

        @staticmethod
        def forward(ctx, a, b):
            prod = a * b
            ctx.save_for_backward(a, b, prod)
            ctx.flags = ctx.needs_input_grad
            return prod, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b, _prod = ctx.saved_tensors
            ga = g_prod * b + g_sum if ctx.needs_input_grad[0] else None
            gb = g_prod * a + g_sum if ctx.needs_input_grad[1] else None
            return ga, gb

    class ArgmaxAndMax(torch.autograd.Function):
        """A non-differentiable integer output next to a differentiable one."""

        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(0, keepdim=True)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.n = x.shape[0]
            return x.gather(0, idx), idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            return torch.zeros(ctx.n, dtype=g.dtype).scatter(0, idx, g)

    class Exp(torch.autograd.Function):
        """Saves its output; setup_context style."""

        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    return {"Cube": Cube, "MulAdd": MulAdd, "ArgmaxAndMax": ArgmaxAndMax, "Exp": Exp}


CT, RT = make_functions(ct), make_functions(real)


def pair(a: np.ndarray, grad: bool = True) -> tuple[Any, Any]:
    return ct.tensor(a, requires_grad=grad), real.tensor(a, requires_grad=grad)


def close(got: Any, want: Any) -> None:
    np.testing.assert_allclose(np.asarray(got.detach().cpu().numpy()), want.detach().cpu().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_cube_value_and_gradient() -> None:
    x, xt = pair(X)
    y, yt = CT["Cube"].apply(x, 2.0), RT["Cube"].apply(xt, 2.0)
    close(y, yt)
    assert y.requires_grad
    assert y.grad_fn is not None
    (y * ct.tensor(Y)).sum().backward()
    (yt * real.tensor(Y)).sum().backward()
    close(x.grad, xt.grad)


def test_double_backward_through_a_differentiable_backward() -> None:
    x, xt = pair(X)
    (g,) = ct.autograd.grad(CT["Cube"].apply(x, 1.5).sum(), x, create_graph=True)
    (gt,) = real.autograd.grad(RT["Cube"].apply(xt, 1.5).sum(), xt, create_graph=True)
    close(g, gt)
    assert g.requires_grad
    (gg,) = ct.autograd.grad((g * ct.tensor(Y)).sum(), x)
    (ggt,) = real.autograd.grad((gt * real.tensor(Y)).sum(), xt)
    close(gg, ggt)


def test_two_outputs_and_needs_input_grad() -> None:
    a, at = pair(X)
    b, bt = pair(Y, grad=False)
    p, s = CT["MulAdd"].apply(a, b)
    pt, st = RT["MulAdd"].apply(at, bt)
    close(p, pt)
    close(s, st)
    (p.sum() * 2 + (s * s).sum()).backward()
    (pt.sum() * 2 + (st * st).sum()).backward()
    close(a.grad, at.grad)
    assert b.grad is None


def test_mark_non_differentiable_output() -> None:
    x, xt = pair(X)
    v, i = CT["ArgmaxAndMax"].apply(x)
    vt, it = RT["ArgmaxAndMax"].apply(xt)
    close(v, vt)
    assert i.dtype == ct.long
    assert not i.requires_grad
    assert not it.requires_grad
    assert v.requires_grad
    (v * 3).sum().backward()
    (vt * 3).sum().backward()
    close(x.grad, xt.grad)


def test_setup_context_and_saved_output() -> None:
    x, xt = pair(X)
    (g,) = ct.autograd.grad(CT["Exp"].apply(x).sum(), x, create_graph=True)
    (gt,) = real.autograd.grad(RT["Exp"].apply(xt).sum(), xt, create_graph=True)
    close(g, gt)
    (gg,) = ct.autograd.grad(g.sum(), x)
    (ggt,) = real.autograd.grad(gt.sum(), xt)
    close(gg, ggt)


def test_function_inside_chainrule_transforms() -> None:
    cube = CT["Cube"]
    x = ct.tensor(X)
    jac = cr.jacobian(lambda t: cube.apply(t, 2.0), mode="reverse")(x)
    np.testing.assert_allclose(jac.cpu().numpy(), np.diag(6 * X ** 2))
    g = cr.grad(lambda t: cube.apply(t, 1.0).sum())(x)
    np.testing.assert_allclose(g.cpu().numpy(), 3 * X ** 2)


def test_forward_mode_needs_a_jvp() -> None:
    with pytest.raises(NotImplementedError, match="jvp"):
        cr.jvp(lambda t: CT["Cube"].apply(t, 1.0), (ct.tensor(X),), (ct.tensor(Y),))

    class Square(ct.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

        @staticmethod
        def jvp(ctx, dx):
            (x,) = ctx.saved_tensors
            return 2 * x * dx

    _, tangent = cr.jvp(lambda t: Square.apply(t), (ct.tensor(X),), (ct.tensor(Y),))
    np.testing.assert_allclose(tangent.cpu().numpy(), 2 * X * Y)


def test_wrong_gradient_count_and_shape_are_errors() -> None:
    class Bad(ct.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    x = ct.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient"):
        Bad.apply(x).sum().backward()


def test_autograd_grad_and_backward_match_torch() -> None:
    x, xt = pair(X)
    z, zt = pair(Y)
    out, outt = (x * x * z).sum(), (xt * xt * zt).sum()
    gx, gz = ct.autograd.grad(out, [x, z], retain_graph=True)
    gxt, gzt = real.autograd.grad(outt, [xt, zt], retain_graph=True)
    close(gx, gxt)
    close(gz, gzt)
    unused = ct.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ct.autograd.grad(out, [x, unused], retain_graph=True)
    assert ct.autograd.grad(out, [x, unused], allow_unused=True, retain_graph=True)[1] is None
    ct.autograd.backward([out, (x * 2).sum()])
    real.autograd.backward([outt, (xt * 2).sum()])
    close(x.grad, xt.grad)
    vec, vect = x * z, xt * zt
    (gv,) = ct.autograd.grad(vec, x, grad_outputs=ct.tensor(Y))
    (gvt,) = real.autograd.grad(vect, xt, grad_outputs=real.tensor(Y))
    close(gv, gvt)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ct.autograd.grad(ct.tensor(X).sum(), x)


def test_autograd_functional_matches_torch() -> None:
    def f(t: Any, a: Any) -> Any:
        return (t * t).sum() * a.exp().sum() if a is not None else t

    x, xt = ct.tensor(X), real.tensor(X)
    a, at = ct.tensor(Y), real.tensor(Y)
    jac = ct.autograd.functional.jacobian(lambda t: t * t * 2, x)
    jact = real.autograd.functional.jacobian(lambda t: t * t * 2, xt)
    close(jac, jact)
    h = ct.autograd.functional.hessian(lambda t: (t ** 3).sum(), x)
    ht = real.autograd.functional.hessian(lambda t: (t ** 3).sum(), xt)
    close(h, ht)
    hs = ct.autograd.functional.hessian(f, (x, a))
    hst = real.autograd.functional.hessian(f, (xt, at))
    for i in range(2):
        for j in range(2):
            close(hs[i][j], hst[i][j])
    out, v = ct.autograd.functional.vjp(lambda t: t.exp(), x, a)
    outt, vt = real.autograd.functional.vjp(lambda t: t.exp(), xt, at)
    close(out, outt)
    close(v, vt)
    out, tan = ct.autograd.functional.jvp(lambda t: t.sin(), x, a)
    outt, tant = real.autograd.functional.jvp(lambda t: t.sin(), xt, at)
    close(tan, tant)
