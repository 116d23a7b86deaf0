"""NumPy's further functions beyond the op table: non-differentiable helpers, aliases, the `%`
operator, JAX's derivative choices (sort ties, floor), and the Tensor methods they add."""

from __future__ import annotations

import numpy as np
import pytest
from reference import assert_close

import chainrule as cr

X = np.array([[0.5, -1.5, 2.0], [0.0, 3.0, -0.25]])


def test_where_with_the_condition_alone_gives_nonzero_indices() -> None:
    got = cr.where(cr.tensor(X) > 0)
    want = np.where(X > 0)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g.cpu().numpy(), w)
    np.testing.assert_array_equal(cr.argwhere(X).cpu().numpy(), np.argwhere(X))
    with pytest.raises(ValueError, match="where"):
        cr.where(X > 0, X)


def test_imag_of_real_is_a_zero_constant_and_aliases_are_the_same_functions() -> None:
    im = cr.imag(cr.tensor(X, requires_grad=True))
    assert not im.requires_grad
    np.testing.assert_array_equal(im.cpu().numpy(), np.zeros_like(X))
    assert cr.degrees is cr.rad2deg
    assert cr.radians is cr.deg2rad
    assert cr.remainder is cr.mod
    assert cr.row_stack is cr.vstack
    assert cr.conjugate is cr.conj


def test_mod_operator_and_its_partials() -> None:
    a, b = np.array([5.5, -5.5, 2.25]), np.array([2.0, 2.0, -1.0])
    assert_close(cr.tensor(a) % 2.0, np.mod(a, 2.0))
    assert_close(7.0 % cr.tensor(b), np.mod(7.0, b))
    ga, gb = cr.grad(lambda x, y: (x % y).sum(), argnums=(0, 1))(a, b)
    assert_close(ga, np.ones(3))
    assert_close(gb, -np.floor(a / b))  # JAX's and PyTorch's choice


def test_floor_and_ceil_have_zero_derivative() -> None:
    for f in (cr.floor, cr.ceil, lambda t: t.floor(), lambda t: t.ceil()):
        x = cr.tensor(X, requires_grad=True)
        f(x).sum().backward()
        np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros_like(X))
    assert cr.tensor(np.array([3, 4])).floor().dtype == np.int64


def test_sort_sends_tied_gradients_in_stable_order() -> None:
    x = np.array([1.0, 1.0, 0.0])
    g = np.array([10.0, 20.0, 30.0])
    (dx,) = cr.vjp(cr.sort, x)[1](g)
    assert_close(dx, np.array([20.0, 30.0, 10.0]))  # sorted = [x2, x0, x1]


def test_shapes_as_numpy() -> None:
    a = np.arange(7.0)
    for got, want in zip(cr.array_split(a, 3), np.array_split(a, 3), strict=True):
        assert_close(got, want)
    t1, t2 = cr.atleast_1d(1.0, a)
    assert t1.shape == (1,)
    assert t2.shape == (7,)
    grads = cr.gradient(X, 2.0)
    for got, want in zip(grads, np.gradient(X, 2.0), strict=True):
        assert_close(got, want)
    assert_close(cr.select([X > 0, X < -1], [X, -X], 7.0),
                 np.select([X > 0, X < -1], [X, -X], 7.0))
    assert_close(cr.cross([1.0, 2.0], [3.0, 4.0]), np.array(-2.0))


def test_tensor_methods_keep_pytorch_meanings() -> None:
    t = cr.tensor(X)
    assert t.repeat(2, 1).shape == (4, 3)  # PyTorch's repeat tiles
    assert cr.repeat(t, 2).shape == (12,)  # NumPy's repeats elements
    assert_close(t.flip(0), X[::-1])
    assert_close(t.ravel(), X.ravel())
    assert_close(t.asin().cpu().numpy()[0, 0], np.arcsin(0.5))
    assert_close(t.roll(shifts=1, dims=1), np.roll(X, 1, 1))
    assert_close(t.diagonal(dim1=1, dim2=0), np.diagonal(X, 0, 1, 0))
    assert_close(t.cumsum(1), np.cumsum(X, 1))
    assert_close(t.cumprod(0), np.cumprod(X, 0))
    assert_close(t.diff(), np.diff(X))
    assert_close(t.tril(), np.tril(X))
    assert_close(cr.tensor(np.abs(X) + 1).log2(), np.log2(np.abs(X) + 1), rtol=1e-12)


def test_lists_of_recorded_tensors_are_differentiable_operands():
    # autograd's np.mean([x, x + 2]): a list of tracked tensors is stacked, never made constant
    assert cr.grad(lambda x: cr.mean([x, x + 2]))(0.0).item() == 1.0
    assert cr.grad(lambda x: cr.sum([[x, 2 * x], [x, x]]))(1.0).item() == 5.0
    g = cr.grad(lambda x: cr.sum(cr.array([x, x * 1.0, x + 2.5]) ** 2))(1.0)
    assert np.isclose(g.item(), 2 * (1 + 1 + 3.5))
    _, t = cr.jvp(lambda x: cr.mean([x, 3 * x]), (cr.tensor(1.0),), (cr.tensor(1.0),))
    assert t.item() == 2.0


def test_array_meshgrid_linspace_and_aliases_follow_numpy():
    a = cr.array([[1, 2], [3, 4]], dtype=cr.float64, ndmin=3)
    np.testing.assert_array_equal(a.cpu().numpy(), np.array([[1, 2], [3, 4]], dtype=np.float64,
                                                      ndmin=3))
    for indexing in ("xy", "ij"):
        for grids in ((np.arange(3.0), np.arange(2.0)),
                      (np.arange(3.0), np.arange(2.0), np.arange(4.0))):
            got = cr.meshgrid(*[cr.tensor(g) for g in grids], indexing=indexing)
            want = np.meshgrid(*grids, indexing=indexing)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g.cpu().numpy(), w)
    np.testing.assert_allclose(cr.linspace(0, 6, 3, endpoint=False).cpu().numpy(),
                               np.linspace(0, 6, 3, endpoint=False))
    x = cr.tensor([-1.5, 2.0])
    np.testing.assert_array_equal(cr.absolute(x).cpu().numpy(), np.absolute(x.cpu().numpy()))
    np.testing.assert_array_equal(cr.negative(x).cpu().numpy(), np.negative(x.cpu().numpy()))
    np.testing.assert_array_equal(cr.true_divide(x, 2).cpu().numpy(),
                                  np.true_divide(x.cpu().numpy(), 2))


def test_einsum_interleaved_form_r_c_fftshift_and_linspace_ends():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(cr.einsum(a, [0, 1], [1, 0]).cpu().numpy(),
                               np.einsum(a, [0, 1], [1, 0]))
    np.testing.assert_allclose(cr.einsum(a, (0, 1), b, (1, 2), (0, 2)).cpu().numpy(),
                               np.einsum(a, (0, 1), b, (1, 2), (0, 2)))
    np.testing.assert_allclose(cr.einsum(a, [Ellipsis, 1], [Ellipsis]).cpu().numpy(),
                               np.einsum(a, [Ellipsis, 1], [Ellipsis]))
    np.testing.assert_array_equal(cr.r_[cr.tensor([1.0, 2.0]), 3.0, 0:2].cpu().numpy(),
                                  np.r_[np.array([1.0, 2.0]), 3.0, 0:2])
    np.testing.assert_array_equal(cr.c_[cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])].cpu().numpy(),
                                  np.c_[np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert cr.grad(lambda x: cr.sum(cr.r_[x, 2 * x] ** 2))(cr.tensor([1.0])).item() == 10.0
    for shape, axes in (((7,), None), ((3, 4), None), ((3, 4), 1)):
        x = np.arange(float(np.prod(shape))).reshape(shape)
        np.testing.assert_array_equal(cr.fft.fftshift(x, axes).cpu().numpy(),
                                      np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(cr.fft.ifftshift(x, axes).cpu().numpy(),
                                      np.fft.ifftshift(x, axes))
    ends = (cr.tensor(0.3, dtype=cr.float64), cr.tensor(1.7, dtype=cr.float64))
    assert cr.gradcheck(lambda s, e: cr.sum(cr.linspace(s, e, 4) ** 2), ends)
    np.testing.assert_allclose(cr.linspace(*ends, 5, endpoint=False).cpu().numpy(),
                               np.linspace(0.3, 1.7, 5, endpoint=False))
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(cr.grad(lambda x: np.sum(x))(x).cpu().numpy(), [1.0, 1.0, 1.0])


def test_linspace_with_array_ends_and_asarray_follow_numpy():
    """np.linspace's array ends give (num, *shape) (autograd's bayesian_optimization example);
    np.asarray keeps a Tensor (autograd's rnn and lstm examples)."""
    lo, hi = np.array([-1.0, 0.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    got = cr.linspace(cr.tensor(lo), cr.tensor(hi), 4)
    np.testing.assert_allclose(got.cpu().numpy(), np.linspace(lo, hi, 4))
    assert cr.gradcheck(lambda s, e: cr.sum(cr.linspace(s, e, 3, endpoint=False) ** 2),
                        (cr.tensor(lo), cr.tensor(hi)))
    x = cr.tensor([1.0, 2.0])
    assert cr.asarray(x) is x
    assert cr.asarray(x, dtype=cr.float64).dtype == np.float64
    np.testing.assert_array_equal(cr.asarray([[1, 2]]).cpu().numpy(), np.asarray([[1, 2]]))


def test_partition_follows_numpy_and_is_differentiable():
    """np.partition (autograd's test_systematic test_partition): values as NumPy's, gradients
    through the permutation."""
    x = np.random.default_rng(0).standard_normal((3, 7))
    for kth, axis in ((0, -1), (3, -1), ((1, 5), 1), (1, 0), (10, None)):
        np.testing.assert_array_equal(cr.partition(x, kth, axis=axis).cpu().numpy(),
                                      np.partition(x, kth, axis=axis))
        assert cr.gradcheck(lambda a, k=kth, ax=axis: cr.partition(a, k, axis=ax), (x,))


def test_comparisons_and_predicates_follow_numpy_as_bool_tensors():
    x = np.array([1.0, -np.inf, np.nan, 0.0, -0.0])
    t = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    for name in ("isfinite", "isinf", "isnan", "signbit", "logical_not"):
        got = getattr(cr, name)(t)
        assert got.dtype == np.bool_
        assert not got.requires_grad
        np.testing.assert_array_equal(got.cpu().numpy(), getattr(np, name)(x))
    y = np.array([0.5, 0.0, 1.0, 0.0, 2.0])
    for name in ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
                 "logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(cr, name)(t, y).cpu().numpy(),
                                      getattr(np, name)(x, y))
    with pytest.raises(ValueError, match=r"greater: .*operand shapes \(2,\) and \(3,\)"):
        cr.greater(cr.ones(2), cr.ones(3))


@pytest.mark.parametrize(("axis", "keepdims"),
                         [(None, False), (0, False), (1, True), ((0, 2), False)])
def test_count_nonzero_matches_numpy(axis: int | tuple | None, keepdims: bool) -> None:
    a = np.random.default_rng(0).integers(-1, 2, (3, 4, 2)).astype(np.float32)
    got = cr.count_nonzero(a, axis=axis, keepdims=keepdims)
    want = np.count_nonzero(a, axis=axis, keepdims=keepdims)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    if axis is not None and not keepdims:  # PyTorch's spelling: torch.count_nonzero(t, dim)
        np.testing.assert_array_equal(cr.tensor(a).count_nonzero(dim=axis).cpu().numpy(), want)


def test_count_nonzero_matches_torch_and_names_itself_in_errors() -> None:
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).integers(-1, 2, (3, 4)).astype(np.float32)
    for dim in (None, 0, 1, (0, 1)):
        want = torch.count_nonzero(torch.from_numpy(a), dim=dim).numpy()
        np.testing.assert_array_equal(cr.tensor(a).count_nonzero(dim=dim).cpu().numpy(), want)
    with pytest.raises(np.exceptions.AxisError, match="count_nonzero: axis 2"):
        cr.count_nonzero(a, axis=2)
    with pytest.raises(ValueError, match="count_nonzero: repeated axis"):
        cr.count_nonzero(a, axis=(1, -1))
    with pytest.raises(np.exceptions.AxisError, match="argmax: axis -3"):
        cr.argmax(a, axis=-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("call", [
    lambda x: (np.add, (x, 2.5)), lambda x: (np.add, (2.5, x)),
    lambda x: (np.maximum, (x, 0.5)), lambda x: (np.heaviside, (x - 1.5, 0.5)),
    lambda x: (np.where, (x > 1.5, x, 0.5)), lambda x: (np.power, (x, 2.0)),
], ids=["add", "radd", "maximum", "heaviside", "where", "power"])
def test_python_numbers_take_an_array_operands_dtype(call, dtype):
    """As NumPy's weak scalars: a NumPy script's x64 + 2.5 stays float64 (and float32 stays
    float32), whether x is an array or a Tensor."""
    x = np.array([1.0, 2.0, 3.0], dtype)
    fn, args = call(x)
    want = fn(*args)
    got = getattr(cr, fn.__name__)(*args)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got.cpu().numpy(), want)
