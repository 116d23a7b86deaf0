"""Edge cases of axes and shapes: NumPy decides what is an error; chainrule names the op."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

X = np.arange(6.0).reshape(2, 3)

# (name, call on the module cr or np and an array of shape (2, 3)): NumPy raises AxisError
BAD_AXES = [
    ("transpose", lambda m, a: m.transpose(a, (2, 1))),
    ("swapaxes", lambda m, a: m.swapaxes(a, 0, 2)),
    ("sum", lambda m, a: m.sum(a, axis=2)),
    ("mean", lambda m, a: m.mean(a, axis=-3)),
    ("max", lambda m, a: m.max(a, axis=5)),
    ("var", lambda m, a: m.var(a, axis=2)),
    ("concatenate", lambda m, a: m.concatenate([a, a], axis=2)),
    ("squeeze", lambda m, a: m.squeeze(a, axis=2)),
    ("take", lambda m, a: m.take(a, np.array([0]), axis=3)),
    ("expand_dims", lambda m, a: m.expand_dims(a, 4)),
]


@pytest.mark.parametrize(("name", "call"), BAD_AXES, ids=[b[0] for b in BAD_AXES])
def test_out_of_range_axis_is_an_axis_error_naming_the_op(name, call):
    with pytest.raises(np.exceptions.AxisError):
        call(np, X)
    with pytest.raises(np.exceptions.AxisError, match=name):
        call(cr, cr.tensor(X))


def test_swapaxes_of_a_0d_tensor():
    with pytest.raises(np.exceptions.AxisError, match="swapaxes: axis 0 is out of bounds"):
        cr.swapaxes(cr.tensor(1.0), 0, 0)


def test_split_axis_and_flatten_range():
    with pytest.raises(np.exceptions.AxisError, match="split"):
        cr.split(cr.tensor(X), 1, axis=2)
    with pytest.raises(np.exceptions.AxisError, match="flatten"):
        cr.flatten(cr.tensor(X), 3)


ZERO_SIZE = [
    ("max_other_axis", lambda m: m.max(m.zeros((0, 4)), axis=1)),
    ("min_keepdims", lambda m: m.min(m.zeros((3, 0, 2)), axis=2, keepdims=True)),
    ("split_empty", lambda m: m.split(m.zeros((0,)), 1)),
    ("split_indices", lambda m: m.split(m.arange(6), [2, -1, 10])),
    ("sum_empty", lambda m: m.sum(m.zeros((0, 3)), axis=0)),
    ("matmul_broadcast_empty", lambda m: m.matmul(m.zeros((0, 2)), m.ones((3, 2, 1)))),
]


def _shapes(r):
    return [p.shape for p in r] if isinstance(r, list | tuple) else r.shape


@pytest.mark.parametrize(("name", "call"), ZERO_SIZE, ids=[z[0] for z in ZERO_SIZE])
def test_zero_size_axes_work_where_numpy_allows(name, call):
    assert _shapes(call(cr)) == _shapes(call(np))


def test_zero_size_backward():
    a = cr.zeros((0, 2), requires_grad=True)
    b = cr.ones((3, 2, 1), requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.shape == (0, 2)
    np.testing.assert_array_equal(b.grad.cpu().numpy(), np.zeros((3, 2, 1)))
    x = cr.zeros((0, 4), requires_grad=True)
    cr.max(x, axis=1).sum().backward()
    assert x.grad.shape == (0, 4)


def test_reducing_a_zero_size_axis_is_an_error_as_numpy():
    with pytest.raises(ValueError, match="zero-size array"):
        np.max(np.zeros((0, 4)), axis=0)
    with pytest.raises(ValueError, match="max: cannot reduce a zero-size axis"):
        cr.max(cr.zeros((0, 4)), axis=0)


BROADCAST = [
    ("pow", lambda a, b: a**b),
    ("less", lambda a, b: a < b),
    ("equal", lambda a, b: a == b),
    ("maximum", lambda a, b: cr.maximum(a, b)),
    ("clip", lambda a, b: cr.clip(a, b, None)),
    ("equal", lambda a, b: a.eq(b)),
]


@pytest.mark.parametrize(("name", "call"), BROADCAST, ids=[f"{b[0]}{i}" for i, b in
                                                            enumerate(BROADCAST)])
def test_broadcast_errors_name_the_op_and_shapes(name, call):
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4,\)"):
        call(cr.ones(2, 3), cr.ones(4))
