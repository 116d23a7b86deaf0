"""Tensor.register_post_accumulate_grad_hook: PyTorch's hook, fired as soon as a grad is final."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autodiff import hooks


def leaf(values, **kwargs) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, **kwargs)


def test_hook_sees_the_accumulated_grad_and_can_be_removed():
    w = leaf([1.0, 2.0])
    seen = []
    handle = w.register_post_accumulate_grad_hook(
        lambda t: seen.append(t.grad.cpu().numpy().copy()))
    (w * w).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(seen[1], [5.0, 7.0])  # accumulated across backward calls
    handle.remove()
    handle.remove()  # idempotent
    (w * w).sum().backward()
    assert len(seen) == 2
    assert id(w) not in hooks.HOOKED


def test_hook_may_modify_grad_in_place():
    w = leaf([1.0, 2.0])
    w.register_post_accumulate_grad_hook(lambda t: t.grad.mul_(10))
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [20.0, 40.0])


def test_hooks_fire_as_soon_as_no_remaining_node_reaches_the_leaf():
    """In a chain, the last layer's parameter is final long before the first layer's."""
    w1, w2 = leaf([0.5, -0.2]), leaf([1.5, 0.3])
    events = []
    w1.register_post_accumulate_grad_hook(lambda t: events.append(("w1", w2.grad is not None)))
    w2.register_post_accumulate_grad_hook(lambda t: events.append(("w2", w1.grad is not None)))
    x = cr.tensor(np.array([1.0, 2.0]))
    h = (x * w1).tanh()
    ((h * w2).tanh() * 2).sum().backward()
    # w2 fires first, before w1's grad exists; w1 fires after, when w2's grad is there
    assert events == [("w2", False), ("w1", True)]


def test_a_leaf_used_twice_fires_once_with_both_contributions():
    w = leaf([1.0, 2.0])
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.cpu().numpy().copy()))
    early = w * 2
    late = (early.exp() * w).sum()
    late.backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], w.grad.cpu().numpy())


def test_several_hooks_in_order_and_no_hook_without_cotangent():
    w, unused = leaf([1.0]), leaf([2.0])
    order = []
    w.register_post_accumulate_grad_hook(lambda t: order.append(1))
    w.register_post_accumulate_grad_hook(lambda t: order.append(2))
    unused.register_post_accumulate_grad_hook(lambda t: order.append("unused"))
    (w * 3 + unused.detach()).sum().backward()
    assert order == [1, 2]


def test_root_leaf_and_create_graph():
    w = leaf([3.0])
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    w.backward(cr.tensor(np.array([1.0])))
    assert seen == [1.0]
    v = leaf([2.0])
    v.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    (v ** 3).sum().backward(create_graph=True)
    assert seen[-1] == 12.0
    assert v.grad.requires_grad


def test_grad_transform_fires_no_hook():
    w = leaf([1.0, 2.0])
    seen = []
    w.register_post_accumulate_grad_hook(seen.append)
    cr.grad(lambda t: (t * t).sum())(w)
    assert not seen


def test_only_leaves_that_require_grad():
    with pytest.raises(RuntimeError, match="non-leaf"):
        (leaf([1.0]) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.tensor(np.array([1.0])).register_post_accumulate_grad_hook(print)


def test_two_leaves_given_the_same_cotangent_get_separate_grads():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    a.register_post_accumulate_grad_hook(lambda t: None)
    (a + b).sum().backward()
    a.grad[0] = 100.0
    assert b.grad.cpu().numpy()[0] == 1.0


def test_queued_callback_runs_after_every_grad():
    w1, w2 = leaf([1.0]), leaf([2.0])
    done = []

    def hook(t):
        hooks.queue_callback(lambda: done.append((w1.grad is not None, w2.grad is not None)))

    w2.register_post_accumulate_grad_hook(hook)
    ((w1 * 2).exp() * w2).sum().backward()
    assert done == [(True, True)]
    assert not hooks.CALLBACKS


def test_registry_forgets_collected_leaves():
    import gc

    w = leaf([1.0])
    w.register_post_accumulate_grad_hook(print)
    key = id(w)
    del w
    gc.collect()
    assert key not in hooks.HOOKED
