"""In-place operations: they mutate, they are recorded, and stale saved values are caught."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

torch = pytest.importorskip("torch")


def test_hand_written_sgd_updates_the_module():
    rng = np.random.default_rng(0)
    model = nn.Linear(3, 1)
    x = cr.tensor(rng.standard_normal((16, 3)).astype(np.float32))
    y = x @ cr.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    before = model.weight.cpu().numpy().copy()
    losses = []
    for _ in range(20):
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with cr.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert not np.array_equal(model.weight.cpu().numpy(), before)
    assert losses[-1] < 0.2 * losses[0]


def test_every_reference_and_view_sees_the_write():
    t = cr.zeros(2, 3)
    alias, view = t, t[0]
    t.add_(1.0)
    t[1, 2] = 7.0
    t.mul_(2.0)
    np.testing.assert_array_equal(alias.cpu().numpy(), [[2, 2, 2], [2, 2, 14]])
    np.testing.assert_array_equal(view.cpu().numpy(), [2, 2, 2])


def test_inplace_on_a_leaf_that_requires_grad_raises():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.normal_(), lambda: w.fill_(1.0),
               lambda: w.__setitem__(0, 3.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            op()
    np.testing.assert_array_equal(w.cpu().numpy(), [1.0, 2.0])


def test_inplace_errors_are_also_type_errors():
    """PyTorch raises RuntimeError, HIPS autograd TypeError (autograd's test_graphs
    test_assignment_raises_error): chainrule's error is both, so either except clause works."""
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="leaf tensor that requires grad"):
        w[1] = 3.0

    def assign(a: cr.Tensor) -> cr.Tensor:
        a[1] = 3.0
        return a.sum()

    with pytest.raises(TypeError):
        cr.grad(assign)(np.arange(5.0))
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1.0)
    with pytest.raises((RuntimeError, TypeError), match="modified by an in-place") as info:
        y.sum().backward()
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, TypeError)


def test_inplace_on_a_non_leaf_is_recorded():
    def run(lib):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * 3
        h.sub_(1.0)
        h.mul_(x)
        h[0] = h[1] * 2
        h.add_(x, alpha=0.5)
        h.clamp_(max=5.0)
        h.relu_()
        h.sum().backward()
        return h.detach().cpu().numpy(), x.grad.cpu().numpy()

    got, want = run(cr), run(torch)
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_buffer_accumulating_a_tensor_that_requires_grad():
    def run(lib):
        w = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        acc = lib.zeros(2, dtype=lib.float64)
        for k in range(3):
            acc += w * (k + 1)
        acc.sum().backward()
        return w.grad.cpu().numpy()

    np.testing.assert_allclose(run(cr), run(torch))


def test_overwritten_saved_value_raises_naming_the_op():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="exp: one of the values needed for gradient"):
        y.sum().backward()

    a = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    z = a * w
    with cr.no_grad():
        a.view(2)[0] = 9.0  # through a view: the same storage
    with pytest.raises(RuntimeError, match="mul"):
        z.sum().backward()


def test_write_to_a_value_nobody_saved_is_fine():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1  # add saves nothing
    h.mul_(2)
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 2.0])


def test_optimizer_step_after_a_retained_graph_is_caught():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with cr.no_grad():
        w.sub_(0.1 * w.grad)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_inplace_keeps_dtype_and_refuses_unsafe_casts():
    i = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="add_"):
        i.add_(0.5)
    f = cr.zeros(3)
    f += np.ones(3)  # a float64 array into float32 memory: cast, as PyTorch
    assert f.dtype == np.float32
    with pytest.raises(RuntimeError, match="shape"):
        f.add_(cr.ones(2, 3))


def test_inplace_tangents_follow_the_write():
    def f(x):
        h = x * 2
        h.mul_(x)
        h.add_(1.0)
        return h

    x, v = cr.tensor([1.0, 3.0], dtype=cr.float64), cr.tensor([1.0, 1.0], dtype=cr.float64)
    _, dy = cr.jvp(f, (x,), (v,))
    np.testing.assert_allclose(dy.cpu().numpy(), 4 * x.cpu().numpy())


def test_random_fills_use_the_generator():
    g1, g2 = cr.Generator().manual_seed(0), cr.Generator().manual_seed(0)
    a, b = cr.empty(5).normal_(generator=g1), cr.empty(5).normal_(generator=g2)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    u = cr.empty(1000).uniform_(-2, 3)
    assert u.min().item() >= -2
    assert u.max().item() < 3
    bern = cr.empty(1000).bernoulli_(0.25)
    assert set(np.unique(bern.cpu().numpy())) <= {0.0, 1.0}


def test_set_grad_enabled_applies_at_once_and_as_context():
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def f(x):
        return x * 2

    assert not f(cr.tensor([1.0], requires_grad=True)).requires_grad
