"""Sparse cotangents of slices and indices: one in-place buffer per parent, dense where it must be.

Each case compares the first-order (ndarray) backward, which uses IndexedCotangent, with PyTorch
or with the dense Tensor-mode backward (create_graph=True).
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import cpu_only, is_array

import chainrule as cr
from chainrule.autodiff.sparse import IndexedCotangent

torch = pytest.importorskip("torch")


def gates(z, h):
    """The LSTM cell's four gates as slices of one product, then some use of each."""
    i, f = z[:, :h].sigmoid(), z[:, h:2 * h].sigmoid()
    g, o = z[:, 2 * h:3 * h].tanh(), z[:, 3 * h:].sigmoid()
    c = f * 0.5 + i * g
    return (o * c.tanh()).sum()


def many_slices(x):
    """Overlapping basic slices, ints, None and Ellipsis, repeated advanced indices (alone and
    mixed with slices), each weighted differently."""
    return ((x[:, :3] * 2.0).sum() + (x[:, 1:] ** 2).sum() + x[1].sum() * 3.0 + x[2, 4] * 5.0
            + x[None, 1:3, ::2].sum() + (x[..., -1] * x[..., 0]).sum()
            + x[[0, 0, 2, 0]].sum() + (x[[1, 1], 2:] * 7.0).sum()
            + x[np.array([[0, 2], [2, 2]]), np.array([[1, 1], [4, 1]])].sum())


def torch_grad(fn, x0, *rest):
    xt = torch.tensor(x0, requires_grad=True)
    fn(xt, *rest).backward()
    return xt.grad.cpu().numpy()


@pytest.mark.parametrize("through_node", [False, True], ids=["leaf", "node"])
def test_many_overlapping_slices_of_one_parent(rng, through_node):
    x0 = rng.standard_normal((3, 5))
    x = cr.tensor(x0, requires_grad=True)
    (many_slices(x * 1.0) if through_node else many_slices(x)).backward()
    want = torch_grad(lambda t: many_slices(t * 1.0) if through_node else many_slices(t), x0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), want, rtol=1e-12)
    assert x.grad._data.flags.c_contiguous
    assert x.grad.dtype == np.float64


def test_gates_as_slices_of_one_product_match_torch(rng):
    x0, w0 = rng.standard_normal((4, 6)), rng.standard_normal((6, 12))
    x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    gates(x @ w, 3).backward()
    xt, wt = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    gates(xt @ wt, 3).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.cpu().numpy(), wt.grad.cpu().numpy(), rtol=1e-12)


def test_repeated_advanced_indices_accumulate(rng):
    x = cr.tensor(rng.standard_normal(4), requires_grad=True)
    idx = np.array([3, 0, 3, 3])
    (x[idx] * cr.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    (x[1:3] * 10.0).sum().backward()  # accumulates into the .grad of the first backward
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 10.0, 10.0, 8.0])


def test_batched_cotangents_through_slices(rng):
    x0 = rng.standard_normal(5)

    def f(x):
        return cr.concatenate([x[1:] * x[:-1], x[[0, 0, 4]]])

    jac = cr.jacobian(f, mode="reverse")(cr.tensor(x0)).cpu().numpy()
    want = torch.autograd.functional.jacobian(
        lambda t: torch.cat([t[1:] * t[:-1], t[[0, 0, 4]]]), torch.tensor(x0)).cpu().numpy()
    np.testing.assert_allclose(jac, want, rtol=1e-12)


def test_higher_order_through_slices_matches_torch(rng):
    x0 = rng.standard_normal(6)

    def f(x):
        return (x[:4] ** 3).sum() + (x[1:] * x[:-1]).sum() + (x[[0, 0, 5]] ** 2).sum()

    x = cr.tensor(x0, requires_grad=True)
    f(x).backward(create_graph=True)
    g, x.grad = x.grad, None
    (g * cr.tensor(np.arange(6.0))).sum().backward()
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad(f(xt), xt, create_graph=True)
    (gt * torch.arange(6.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(g.detach().cpu().numpy(), gt.detach().cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(cr.hessian(f)(cr.tensor(x0)).cpu().numpy(),
                               torch.autograd.functional.hessian(f, torch.tensor(x0)).cpu().numpy(),
                               rtol=1e-12)


def test_hook_sees_a_dense_grad(rng):
    x = cr.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad))
    (x[:, :2].sum() + x[0, 1:].sum() * 2.0 + x[[1, 1]].sum()).backward()
    (g,) = seen
    assert is_array(g._data)
    np.testing.assert_array_equal(g.cpu().numpy(), [[1.0, 3.0, 2.0, 2.0], [3.0, 3.0, 2.0, 2.0]])


@pytest.mark.parametrize("slice_first", [False, True])
def test_never_adds_into_an_array_held_elsewhere(rng, slice_first):
    """Add's rule gives its one cotangent array to both inputs: a slice's contribution to one of
    them must not leak into the other (whichever order the backward meets them in)."""
    x0, k = rng.standard_normal(4), rng.standard_normal(4)
    x = cr.tensor(x0, requires_grad=True)
    u, t = x * 2.0, x * 3.0
    def dense():
        return ((u + t) * cr.tensor(k)).sum()

    def sliced():
        return (u[0:2] * 5.0).sum() + u[[3, 3]].sum() + (u * 4.0).sum()

    # the backward meets the parts in the reverse of the order they were recorded in
    (sliced() + dense() if slice_first else dense() + sliced()).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * (k + np.array([9, 9, 4, 6])) + 3 * k,
                               rtol=1e-12)


def test_user_grad_and_root_slice_are_left_alone(rng):
    x = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    g = np.ones(2)
    y = x * 1.0
    y[1].backward(g)
    np.testing.assert_array_equal(g, np.ones(2))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    x.grad = None
    x[2].backward(g)  # a leaf reached by one slice only
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(g, np.ones(2))


def test_float32_stays_float32(rng):
    x = cr.tensor(rng.standard_normal((2, 6)).astype(np.float32), requires_grad=True)
    z = x * 1.0
    (z[:, :3].sum() + z[:, 3:].sum() * 2.0 + z[:, [0, 0]].sum()).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[3, 1, 1, 2, 2, 2]] * 2)


@cpu_only  # cr.compile replays NumPy steps only
def test_compiled_step_with_slices_matches_eager(rng):
    x0, w0 = rng.standard_normal((4, 6)), rng.standard_normal((6, 12))

    def make():
        w = cr.tensor(w0.copy(), requires_grad=True)

        def step(x):
            w.grad = None
            gates(x @ w, 3).backward()
            return w.grad

        return step

    eager, compiled = make(), cr.compile(make())
    x = cr.tensor(x0)
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).cpu().numpy(), eager(x).cpu().numpy(), rtol=1e-12)


def test_on_a_device(fake_cuda):
    w = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    d = w.cuda() * 1.0
    (d[0:2].sum() * 2.0 + d[[2, 2, 0]].sum() + d[1:].sum()).backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [3.0, 3.0, 3.0])


def test_indexed_cotangent_dense_and_add_into():
    v = np.arange(4.0).reshape(2, 2)
    basic = IndexedCotangent(v, (3, 2), (slice(1, None),), True)
    np.testing.assert_array_equal(basic.dense(), [[0, 0], [0, 1], [2, 3]])
    adv = IndexedCotangent(v, (3, 2), (np.array([0, 0]),), False)
    buf = basic.dense()
    adv.add_into(buf)
    np.testing.assert_array_equal(buf, [[2, 4], [0, 1], [2, 3]])


def test_first_order_backward_makes_no_dense_slice_cotangents(rng, monkeypatch):
    """The first-order pass never calls the dense rule (Scatter); create_graph=True still does."""
    from chainrule.ops import indexing

    calls = []
    dense = indexing.Scatter.forward
    monkeypatch.setattr(indexing.Scatter, "forward",
                        staticmethod(lambda *a: calls.append(1) or dense(*a)))
    x = cr.tensor(rng.standard_normal((4, 8)), requires_grad=True)
    gates(x * 1.0, 2).backward()
    assert calls == []
    gates(x * 1.0, 2).backward(create_graph=True)
    assert len(calls) == 4
