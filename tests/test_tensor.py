"""Tensor behaviour: dtype policy, factories, attributes, memory sharing, in-place rules, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from reference import cpu_only

import chainrule as cr

# ----- dtype policy -----


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.tensor(1.5),
        lambda: cr.tensor([1.0, 2.0]),
        lambda: cr.tensor([[1.0], [2.5]]),
        lambda: cr.zeros(2, 3),
        lambda: cr.ones((2, 3)),
        lambda: cr.empty(4),
        lambda: cr.full((2,), 3.5),
        lambda: cr.arange(0.0, 1.0, 0.25),
        lambda: cr.linspace(0, 1, 5),
        lambda: cr.eye(3),
        lambda: cr.randn(3, 2),
        lambda: cr.rand(3),
    ],
    ids=["scalar", "list", "nested", "zeros", "ones", "empty", "full", "arange", "linspace",
         "eye", "randn", "rand"],
)
def test_floats_default_to_float32(make):
    t = make()
    assert t.dtype == np.float32
    assert t.dtype == cr.float32
    assert t.cpu().numpy().dtype == np.float32


def test_dtype_names_are_numpy_dtypes():
    assert cr.float32 is np.float32
    assert cr.float64 is np.float64
    assert cr.int64 is np.int64
    assert cr.bool_ is np.bool_
    assert cr.get_default_dtype() is np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.tensor(1.5, dtype=cr.float64),
        lambda: cr.tensor([1.0, 2.0], dtype=np.float64),
        lambda: cr.zeros(2, dtype=cr.float64),
        lambda: cr.ones(2, 2, dtype=cr.float64),
        lambda: cr.full((2,), 1.0, dtype=cr.float64),
        lambda: cr.randn(3, dtype=cr.float64),
        lambda: cr.rand(3, dtype=cr.float64),
        lambda: cr.eye(2, dtype=cr.float64),
        lambda: cr.linspace(0, 1, 3, dtype=cr.float64),
        lambda: cr.tensor([1.0]).astype(cr.float64),
    ],
)
def test_float64_on_request(make):
    assert make().dtype == np.float64


def test_set_default_dtype_changes_python_float_dtype():
    try:
        cr.set_default_dtype(cr.float64)
        assert cr.tensor(1.0).dtype == np.float64
        assert cr.zeros(2).dtype == np.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor(1.0).dtype == np.float32


def test_set_default_dtype_rejects_integers():
    with pytest.raises(TypeError):
        cr.set_default_dtype(cr.int64)
    assert cr.get_default_dtype() is np.float32


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_]
)
def test_tensor_keeps_ndarray_dtype(dtype):
    arr = np.ones(3, dtype=dtype)
    assert cr.tensor(arr).dtype == dtype
    assert cr.Tensor(arr).dtype == dtype


def test_python_ints_and_bools_keep_their_kind():
    assert cr.tensor([1, 2, 3]).dtype.kind == "i"
    assert cr.tensor([True, False]).dtype == np.bool_


def _survey_ops(x):
    """Many ops in a row, with Python scalars and float64 ndarrays as constants."""
    c64 = np.array([0.5, -1.0, 2.0])
    y = cr.sin(x) * 2.5 + c64
    y = y / (1.0 + x**2) - np.float64(0.25) * cr.exp(-x)
    y = cr.where(x > 0, y, c64) + cr.maximum(x, c64) + cr.clip(x, -0.5, 0.5)
    y = cr.tanh(y) * cr.sigmoid(x) + cr.softplus(x) + cr.sqrt(x * x + 1.0) + cr.log1p(x * x)
    z = cr.stack([y, x]) @ x + cr.concatenate([y, c64]).sum()
    return cr.logsumexp(z) + cr.softmax(y, axis=0).max() + (y**3.0).mean() + y.var() + 2**x.sum()


def test_float32_stays_float32_in_forward_and_backward():
    x = cr.tensor([0.3, -0.7, 1.1], requires_grad=True)
    out = _survey_ops(x)
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32


def test_float32_stays_float32_in_transforms():
    x = cr.tensor([0.3, -0.7, 1.1])
    v = np.array([1.0, 0.0, -1.0])  # float64 tangent for a float32 primal
    out, tangent = cr.jvp(_survey_ops, (x,), (v,))
    assert out.dtype == np.float32
    assert tangent.dtype == np.float32
    assert cr.grad(_survey_ops)(x).dtype == np.float32
    value, g = cr.value_and_grad(_survey_ops)(x)
    assert value.dtype == g.dtype == np.float32
    _, vjp_fn = cr.vjp(_survey_ops, x)
    assert vjp_fn(1.0)[0].dtype == np.float32
    for mode in ("forward", "reverse", "auto"):
        jac = cr.jacobian(lambda x: cr.sin(x) * 2.0 + np.ones(3), mode=mode)(x)
        assert jac.dtype == np.float32, mode
    assert cr.hessian(_survey_ops)(x).dtype == np.float32
    assert cr.grad(cr.grad(lambda s: cr.sin(s) * s**3.0))(cr.tensor(0.5)).dtype == np.float32


def test_float64_graph_stays_float64():
    x = cr.tensor([0.3, -0.7, 1.1], dtype=cr.float64, requires_grad=True)
    out = _survey_ops(x)
    out.backward()
    assert out.dtype == x.grad.dtype == np.float64
    assert cr.hessian(_survey_ops)(x.detach()).dtype == np.float64


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: b - a),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("maximum", cr.maximum),
        ("where", lambda a, b: cr.where(a > 0, a, b)),
        ("matmul", lambda a, b: a @ b),
        ("concatenate", lambda a, b: cr.concatenate([a, b])),
        ("einsum", lambda a, b: cr.einsum("i,i->", a, b)),
        ("concatenate", lambda a, b: cr.stack([a, b])),
    ],
)
def test_mixing_float32_and_float64_raises_naming_op(name, fn):
    a = cr.tensor([1.0, 2.0])
    b = cr.tensor([1.0, 2.0], dtype=cr.float64)
    with pytest.raises(TypeError, match=name):
        fn(a, b)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, c: x + c,
        lambda x, c: c + x,
        lambda x, c: x * c,
        lambda x, c: c - x,
        lambda x, c: c / x,
        lambda x, c: x**c,
        lambda x, c: cr.maximum(x, c),
        lambda x, c: cr.where(x > 1, x, c),
        lambda x, c: cr.concatenate([x, c]),
        lambda x, c: cr.stack([x, c]),
        lambda x, c: x @ c,
        lambda x, c: c @ x,
        lambda x, c: cr.dot(x, c),
        lambda x, c: cr.outer(x, c),
        lambda x, c: cr.einsum("i,i->i", x, c),
    ],
)
@pytest.mark.parametrize("const", ["float64 ndarray", "python list"])
def test_constants_keep_float32(fn, const):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = np.array([0.5, 1.5, 2.5]) if const == "float64 ndarray" else [0.5, 1.5, 2.5]
    y = fn(x, c)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("c", [2, 2.5, np.float64(2.5), np.int64(2), True])
def test_python_and_numpy_scalars_keep_float32(c):
    x = cr.tensor([1.0, 2.0])
    for y in (x + c, c * x, x / c, x - c, x**2.0, c - x):
        assert y.dtype == np.float32


def test_int_tensor_with_float32_tensor_gives_float32():
    x = cr.tensor([1.0, 2.0])
    i = cr.tensor([1, 2])
    assert (x + i).dtype == np.float32
    assert (i * x).dtype == np.float32
    assert cr.concatenate([x, i]).dtype == np.float32
    assert cr.stack([i, x]).dtype == np.float32
    assert cr.einsum("i,i->", x, i).dtype == np.float32


# ----- factories -----


def test_factory_shapes_and_values():
    np.testing.assert_array_equal(cr.zeros(2, 3).cpu().numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(cr.zeros((2, 3)).cpu().numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(cr.ones(4).cpu().numpy(), np.ones(4))
    np.testing.assert_array_equal(cr.full((2, 2), 7.0).cpu().numpy(), np.full((2, 2), 7.0))
    assert cr.empty(3, 1).shape == (3, 1)
    np.testing.assert_array_equal(cr.arange(5).cpu().numpy(), np.arange(5))
    assert cr.arange(5).dtype == np.int64
    np.testing.assert_allclose(cr.arange(1.0, 2.0, 0.5).cpu().numpy(), [1.0, 1.5])
    np.testing.assert_allclose(cr.linspace(0, 1, 5).cpu().numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(cr.eye(3).cpu().numpy(), np.eye(3))
    assert cr.eye(2, 3).shape == (2, 3)


def test_like_factories_take_shape_and_dtype():
    x = cr.tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    z, o = cr.zeros_like(x), cr.ones_like(x)
    assert z.shape == o.shape == (2, 3)
    assert z.dtype == o.dtype == np.float64
    assert (z.cpu().numpy() == 0).all()
    assert (o.cpu().numpy() == 1).all()
    assert cr.zeros_like(cr.ones(2)).dtype == np.float32


def test_factories_requires_grad():
    assert cr.zeros(2, requires_grad=True).requires_grad
    assert cr.ones(2, requires_grad=True).is_leaf
    assert cr.randn(2, requires_grad=True).requires_grad
    assert not cr.zeros(2).requires_grad


def test_random_factories_are_seedable():
    cr.manual_seed(123)
    a = cr.randn(4)
    cr.manual_seed(123)
    b = cr.randn(4)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    c = cr.rand(3, rng=np.random.default_rng(0))
    d = cr.rand(3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(c.cpu().numpy(), d.cpu().numpy())
    assert ((c.cpu().numpy() >= 0) & (c.cpu().numpy() < 1)).all()


def test_randint():
    r = cr.randint(0, 5, size=(100,), rng=np.random.default_rng(0))
    assert r.dtype == np.int64
    assert r.shape == (100,)
    assert ((r.cpu().numpy() >= 0) & (r.cpu().numpy() < 5)).all()
    assert cr.randint(3, size=10).cpu().numpy().max() < 3


# ----- memory, conversion, attributes -----


@cpu_only  # .numpy() is the host ndarray itself only on the CPU, as PyTorch's
def test_data_shares_memory():
    t = cr.tensor([1.0, 2.0, 3.0])
    t.numpy()[0] = 10.0
    assert t[0].item() == 10.0
    assert t.numpy() is t.numpy()
    assert np.shares_memory(np.asarray(t), t.numpy())


@cpu_only  # np.asarray of a CUDA tensor refuses, as PyTorch's (the NumPy protocol is host-only)
def test_asarray_of_tensor():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t).shape == (2, 2)


def test_attributes():
    t = cr.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert t.size == 6
    assert t.dtype == np.float32
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.cpu().numpy(), t.cpu().numpy().T)
    assert t.grad is None
    assert t.requires_grad
    assert t.is_leaf
    y = t * 2
    assert y.requires_grad
    assert not y.is_leaf
    assert not cr.tensor(1.0).requires_grad


def test_item_tolist_len():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert cr.tensor(2.5).item() == 2.5
    assert isinstance(cr.tensor(2.5).item(), float)
    assert len(t) == 2
    with pytest.raises(ValueError, match="item"):
        t.item()


def test_detach_shares_data_and_leaves_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad
    assert d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    if d.device.type == "cpu":
        assert np.shares_memory(d.numpy(), y.numpy())


def test_requires_grad_():
    t = cr.tensor([1.0])
    assert t.requires_grad_() is t
    assert t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    with pytest.raises(TypeError):
        cr.tensor([1, 2]).requires_grad_()


def test_astype_is_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.astype(cr.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, 4.0])


def test_comparisons_give_bool_and_no_graph():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    for c in (x > 0, x < 0, x >= 0, x <= 0, x == 1.0, x != 1.0):
        assert c.dtype == np.bool_
        assert not c.requires_grad
    np.testing.assert_array_equal((x > 0).cpu().numpy(), [True, False])


# ----- rebinding and in-place writes -----


def test_augmented_assignment_mutates():
    x = cr.tensor([1.0, 2.0])
    original = x
    view = x.data
    x += 1.0
    assert x is original
    np.testing.assert_array_equal(view.cpu().numpy(), [2.0, 3.0])
    x *= 2.0
    np.testing.assert_array_equal(original.cpu().numpy(), [4.0, 6.0])


def test_augmented_assignment_on_leaf_requiring_grad_raises():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        w += 3.0
    with cr.no_grad():
        w -= 0.5
    np.testing.assert_array_equal(w.cpu().numpy(), [0.5, 1.5])


def test_setitem_on_requires_grad_raises():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem"):
        w[0] = 5.0
    np.testing.assert_array_equal(w.cpu().numpy(), [1.0, 2.0])


def test_setitem_on_saved_tensor_raises():
    a = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    y = a * w
    a[0] = 5.0  # allowed, as in PyTorch; the gradient that needs the old value refuses
    with pytest.raises(RuntimeError, match="mul: one of the values needed for gradient"):
        y.sum().backward()


def test_setitem_under_no_grad_writes():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        w[0] = 5.0
        w[1:] = cr.tensor([7.0])
    np.testing.assert_array_equal(w.cpu().numpy(), [5.0, 7.0])


def test_setitem_on_plain_tensor_writes():
    t = cr.zeros(2, 3)
    t[0, 1] = 4.0
    t[1] = cr.tensor([1.0, 2.0, 3.0])
    t[t == 0] = -1.0
    np.testing.assert_array_equal(t.cpu().numpy(), [[-1, 4, -1], [1, 2, 3]])


# ----- broadcasting -----


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((2, 1, 3), (4, 1)), ((5,), (5,))],
)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_gradients_sum_back_to_input_shapes(sa, sb, op):
    rng = np.random.default_rng(0)
    an = rng.uniform(0.5, 2.0, sa).astype(np.float32)
    bn = rng.uniform(0.5, 2.0, sb).astype(np.float32)
    a = cr.tensor(an, requires_grad=True)
    b = cr.tensor(bn, requires_grad=True)
    fns = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q,
           "mul": lambda p, q: p * q, "div": lambda p, q: p / q}
    out = fns[op](a, b)
    shape = np.broadcast_shapes(sa, sb)
    assert out.shape == shape
    out.sum().backward()
    assert a.grad.shape == sa
    assert b.grad.shape == sb
    A, B = np.broadcast_to(an, shape), np.broadcast_to(bn, shape)
    da = {"add": np.ones(shape), "sub": np.ones(shape), "mul": B, "div": 1 / B}[op]
    db = {"add": np.ones(shape), "sub": -np.ones(shape), "mul": A, "div": -A / B**2}[op]

    def sum_to(g, s):
        g = g.sum(axis=tuple(range(g.ndim - len(s)))) if g.ndim > len(s) else g
        return g.sum(axis=tuple(i for i, n in enumerate(s) if n == 1), keepdims=True).reshape(s)

    np.testing.assert_allclose(a.grad.cpu().numpy(), sum_to(da, sa), rtol=1e-5)
    np.testing.assert_allclose(b.grad.cpu().numpy(), sum_to(db, sb), rtol=1e-5)


def test_broadcast_to_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.broadcast_to(x, (4, 3))
    (y * cr.arange(4.0).reshape(4, 1)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [6.0, 6.0, 6.0])


# ----- error messages -----


def test_matmul_shape_error_message():
    with pytest.raises(ValueError, match=re.escape(
            "matmul: (3, 4) @ (5, 2): inner dimensions 4 and 5 differ")):
        cr.ones(3, 4) @ cr.ones(5, 2)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("maximum", cr.maximum),
    ],
)
def test_broadcast_error_names_op_and_shapes(name, fn):
    with pytest.raises(ValueError, match=name) as info:
        fn(cr.ones(2, 3), cr.ones(4))
    assert "(2, 3)" in str(info.value)
    assert "(4,)" in str(info.value)


def test_broadcast_to_error():
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\)"):
        cr.broadcast_to(cr.ones(2, 3), (3, 3))


def test_reshape_error():
    with pytest.raises(ValueError, match="reshape") as info:
        cr.ones(2, 3).reshape(4, 2)
    assert "(2, 3)" in str(info.value)
    assert "(4, 2)" in str(info.value)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("sum", lambda x: x.sum(axis=2)),
        ("mean", lambda x: x.mean(axis=-3)),
        ("max", lambda x: x.max(axis=5)),
        ("softmax", lambda x: cr.softmax(x, axis=2)),
    ],
)
def test_bad_axis_raises_naming_op(name, fn):
    with pytest.raises(ValueError, match=name):
        fn(cr.ones(2, 3))


def test_backward_on_integer_tensor_refused():
    with pytest.raises(TypeError):
        cr.tensor([1, 2], requires_grad=True)


# ----- NumPy code meeting Tensors -----


def test_ndarray_operators_defer_to_the_tensor():
    """ndarray <op> Tensor is the Tensor's reflected operator: a Tensor, on the graph."""
    a = np.array([1.0, 2.0])
    x = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    for got, want in [(a + x, [4, 6]), (a - x, [-2, -2]), (a * x, [3, 8]), (a / x, [1 / 3, 0.5]),
                      (a**x, [1, 16]), (np.float64(2.0) * x, [6, 8]), (a @ x, 11)]:
        assert isinstance(got, cr.Tensor)
        assert got.requires_grad
        np.testing.assert_allclose(got.cpu().numpy(), want)
    np.testing.assert_array_equal((a < x).cpu().numpy(), [True, True])


@cpu_only  # NumPy code reads a torch.Tensor as an array only on the CPU too
def test_numpy_and_scipy_code_reads_tensors_as_arrays():
    """Third-party NumPy code (SciPy's optimizers, matplotlib) can use Tensors, as torch.Tensors:
    ufuncs read the values, and ``ndarray -= Tensor`` works (autograd's examples do both)."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    t = cr.tensor([1.0, -np.inf], dtype=cr.float64)
    np.testing.assert_array_equal(np.isfinite(t), [True, False])
    np.testing.assert_array_equal(np.abs(t), [1.0, np.inf])
    w = np.zeros(2)
    w -= cr.tensor([0.5, 1.0], dtype=cr.float64)
    np.testing.assert_array_equal(np.asarray(w), [-0.5, -1.0])

    def f(r):
        return r**3 - 2.0

    root = scipy_optimize.newton(f, 1.0, fprime=cr.grad(f), fprime2=cr.grad(cr.grad(f)))
    np.testing.assert_allclose(float(root), 2.0 ** (1 / 3))


def test_full_is_differentiable_in_a_recorded_fill_value():
    """np.full(shape, v) with v on the graph keeps v's derivative (autograd's define_gradient
    example builds a vjp with it), in both modes and to second order, never silently 0."""
    v = np.float64(2.0)
    assert cr.grad(lambda v: cr.sum(cr.full((3,), v) ** 2))(v).item() == 12.0
    assert cr.grad(lambda v: cr.sum(cr.full_like(np.ones((2, 2)), v)))(v).item() == 4.0
    _, dv = cr.jvp(lambda v: cr.full((2,), v), (v,), (np.float64(1.0),))
    np.testing.assert_array_equal(dv.cpu().numpy(), [1.0, 1.0])
    assert cr.hessian(lambda v: cr.sum(cr.full((2,), v) ** 3))(v).item() == 24.0
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    assert cr.full((3, 2), w).shape == (3, 2)
    with pytest.raises(ValueError, match="full"):
        cr.full((3,), w * 1.0 + cr.zeros(3, 2, dtype=cr.float64))
    assert cr.full((2,), cr.tensor(3.0)).dtype == np.float32  # an untracked Tensor: as before


def test_numpy_ufuncs_on_tensors_stay_on_the_graph_or_refuse():
    """np.exp(t) is cr.exp(t); a ufunc chainrule cannot record refuses a tracked Tensor instead
    of silently returning values off the graph (PyTorch refuses any NumPy call there)."""
    x = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    y = np.exp(x)
    assert isinstance(y, cr.Tensor)
    np.sum(y).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.exp([0.0, 1.0]))
    np.testing.assert_array_equal(np.isfinite(x).cpu().numpy(), [True, True])  # no gradient lost
    w = np.zeros(2)
    with pytest.raises(TypeError, match=r"numpy\.subtract: cannot record.*detach"):
        w -= x
    with pytest.raises(TypeError, match=r"numpy\.add\.reduce"):
        np.add.reduce(x)
    assert np.add.reduce(x.detach()) == 1.0
