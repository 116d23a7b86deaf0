"""NumPy's miscellaneous functions outside the op table: comparisons (isclose, allclose,
array_equal, isin), creation (identity, logspace), the array-API aliases, and the derivative
choices of heaviside and float_power, each against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from reference import assert_close

import chainrule as cr


def _np(t: cr.Tensor) -> np.ndarray:
    return t.cpu().cpu().numpy()


# ----- comparisons -----
@pytest.mark.parametrize("kw", [{}, {"rtol": 0.1}, {"atol": 0.5}, {"equal_nan": True}])
def test_isclose_matches_numpy(kw: dict) -> None:
    a = np.array([1.0, 1.05, np.nan, np.inf, 0.0, -2.0])
    b = np.array([1.0, 1.0, np.nan, np.inf, 0.3, -2.0 + 1e-9])
    got = cr.isclose(cr.tensor(a), b, **kw)
    assert got.dtype == np.bool_
    assert not got.requires_grad
    np.testing.assert_array_equal(_np(got), np.isclose(a, b, **kw))
    # broadcasting, float32 and ints, numbers
    np.testing.assert_array_equal(
        _np(cr.isclose(a.astype(np.float32)[:, None], np.arange(3), **kw)),
        np.isclose(a.astype(np.float32)[:, None], np.arange(3), **kw))
    assert _np(cr.isclose(1.0, 1.0 + 1e-9)).shape == ()


def test_isclose_shape_error_names_the_function_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"isclose: .*\(2,\) and \(3,\)"):
        cr.isclose(np.ones(2), cr.ones(3))


def test_allclose_and_array_equal_give_python_bools() -> None:
    a = np.array([[1.0, 2.0], [3.0, np.nan]])
    for b, kw in [(a, {}), (a, {"equal_nan": True}), (a + 1e-7, {"equal_nan": True}),
                  (a[0], {}), (a + 1, {"atol": 1.5, "equal_nan": True})]:
        got = cr.allclose(cr.tensor(a), cr.tensor(b), **kw)
        assert type(got) is bool
        assert got == np.allclose(a, b, **kw)
    for b, kw in [(a, {}), (a, {"equal_nan": True}), (a[0], {}), (a.T, {}),
                  (a.astype(np.float32), {"equal_nan": True}), (a[:, :1], {})]:
        got = cr.array_equal(cr.tensor(a), b, **kw)
        assert type(got) is bool
        assert got == np.array_equal(a, b, **kw)
    assert cr.array_equal([1, 2], cr.tensor([1, 2]))
    assert not cr.array_equal([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="isclose"):
        cr.allclose(np.ones(2), np.ones(3))


@pytest.mark.parametrize("kw", [{}, {"invert": True}, {"assume_unique": True}])
def test_isin_matches_numpy(kw: dict) -> None:
    e = np.array([[1, 5, 3], [2, 2, 7]])
    t = np.array([2, 3, 9])
    got = cr.isin(cr.tensor(e), cr.tensor(t), **kw)
    assert got.dtype == np.bool_
    assert got.shape == e.shape
    np.testing.assert_array_equal(_np(got), np.isin(e, t, **kw))
    np.testing.assert_array_equal(_np(cr.isin(e.astype(np.float32), [2.0, 7.0])),
                                  np.isin(e.astype(np.float32), [2.0, 7.0]))
    assert _np(cr.isin(3, t)).shape == ()


# ----- creation -----
def test_identity_matches_numpy_in_the_default_float_dtype() -> None:
    got = cr.identity(3)
    assert got.dtype == cr.get_default_dtype()
    np.testing.assert_array_equal(_np(got), np.identity(3))
    assert cr.identity(2, dtype=np.float64).dtype == np.float64
    assert cr.identity(2, dtype=np.int64).dtype == np.int64
    assert cr.identity(0).shape == (0, 0)


@pytest.mark.parametrize(("args", "kw"), [
    ((0.0, 3.0), {}), ((0.0, 2.0, 5), {"endpoint": False}), ((-1.0, 1.0, 4), {"base": 2.0}),
    ((1.0, 2.0, 1), {}), ((0.0, 1.0, 0), {}),
    ((np.array([0.0, 1.0]), np.array([2.0, 3.0]), 3), {"axis": 1}),
])
def test_logspace_matches_numpy(args: tuple, kw: dict) -> None:
    got = cr.logspace(*args, **kw)
    assert got.dtype == cr.get_default_dtype()
    want = np.logspace(*args, **kw)
    assert got.shape == want.shape
    assert_close(got, want.astype(got.dtype), rtol=1e-6)
    got64 = cr.logspace(*args, dtype=np.float64, **kw)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(_np(got64), want, rtol=1e-14)


def test_logspace_is_differentiable_in_tensor_ends() -> None:
    start = np.array(0.5)
    f = lambda s: cr.logspace(s, 2.0, 4, base=3.0, dtype=np.float64).sum()  # noqa: E731
    assert cr.gradcheck(f, (start,))
    want = np.log(3.0) * np.sum(np.logspace(0.5, 2.0, 4, base=3.0) * np.linspace(1, 0, 4))
    assert_close(cr.grad(f)(start), want, rtol=1e-10)
    out = cr.logspace(cr.tensor(0.0), cr.tensor([1.0, 2.0]), 3, axis=1)
    assert_close(out, np.logspace(0.0, [1.0, 2.0], 3, axis=1).astype(np.float32), rtol=1e-6)


def test_logspace_error_names_the_function() -> None:
    with pytest.raises(ValueError, match="logspace"):
        cr.logspace(0.0, 1.0, -1)


# ----- elementwise derivative choices -----
def test_heaviside_values_and_gradient_in_x2_at_zero() -> None:
    x1 = np.array([-1.5, 0.0, 2.0, 0.0])
    x2 = np.array([0.25, 0.5, 0.75, -1.0])
    assert_close(cr.heaviside(x1, x2), np.heaviside(x1, x2))
    g1, g2 = cr.grad(lambda a, b: (cr.heaviside(a, b) * np.arange(1.0, 5.0)).sum(),
                     argnums=(0, 1))(x1, x2)
    np.testing.assert_array_equal(_np(g1), np.zeros(4))
    np.testing.assert_array_equal(_np(g2), [0.0, 2.0, 0.0, 4.0])
    _, d = cr.jvp(cr.heaviside, (x1, x2), (np.ones(4), np.ones(4)))
    np.testing.assert_array_equal(_np(d), [0.0, 1.0, 0.0, 1.0])
    assert cr.heaviside(np.array([0, 1]), np.array([3, 4])).dtype == cr.get_default_dtype()


def test_float_power_is_float64_and_differentiable_from_float32() -> None:
    x = cr.tensor(np.array([1.5, 2.0], np.float32), requires_grad=True)
    y = cr.float_power(x, 3)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(_np(y), np.float_power(np.float32([1.5, 2.0]), 3))
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, 3 * np.float32([1.5, 2.0]) ** 2)
    assert cr.float_power(np.arange(3), 2).dtype == np.float64


def test_copysign_fmod_positive_errors() -> None:
    with pytest.raises(ValueError, match=r"copysign: shapes \(2,\) and \(3,\)"):
        cr.copysign(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="fmod"):
        cr.fmod(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="positive"):
        cr.positive(np.array([True]))
    np.testing.assert_array_equal(_np(cr.fmod(np.array([7, -7]), np.array([3, 3]))),
                                  np.fmod([7, -7], [3, 3]))
    p = cr.tensor([1.0, 2.0])
    assert cr.positive(p) is not p


def test_cbrt_of_integers_and_at_zero() -> None:
    got = cr.cbrt(np.array([-8, 0, 27]))
    assert got.dtype == cr.get_default_dtype()
    np.testing.assert_array_equal(_np(got), np.cbrt(np.float32([-8, 0, 27])))
    # infinite derivative at 0, but a zero cotangent gives zero (mask-safe)
    g = cr.grad(lambda x: (cr.cbrt(x) * np.array([1.0, 0.0])).sum())(np.array([8.0, 0.0]))
    np.testing.assert_array_equal(_np(g), [1 / 12, 0.0])


# ----- array API names -----
def test_array_api_aliases() -> None:
    assert cr.concat is cr.concatenate
    assert cr.permute_dims is cr.transpose
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(_np(cr.concat([x, x], axis=1)), np.concat([x, x], axis=1))
    np.testing.assert_array_equal(_np(cr.permute_dims(x, (2, 0, 1))),
                                  np.permute_dims(x, (2, 0, 1)))
    np.testing.assert_array_equal(_np(cr.matrix_transpose(x)), np.matrix_transpose(x))
    with pytest.raises(ValueError, match=r"matrix_transpose: .*\(3,\)"):
        cr.matrix_transpose(np.ones(3))


def test_vecdot_matches_numpy_and_its_errors() -> None:
    a, b = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0])
    np.testing.assert_array_equal(_np(cr.vecdot(a, b)), np.vecdot(a, b))
    np.testing.assert_array_equal(_np(cr.vecdot(a.T, a.T, axis=0)), np.vecdot(a.T, a.T, axis=0))
    ints = np.arange(6, dtype=np.int32).reshape(2, 3)
    got = cr.vecdot(ints, ints)
    assert got.dtype == np.vecdot(ints, ints).dtype
    np.testing.assert_array_equal(_np(got), np.vecdot(ints, ints))
    with pytest.raises(ValueError, match="vecdot"):
        cr.vecdot(a, np.ones(2))
    with pytest.raises(ValueError, match="vecdot"):
        cr.vecdot(a, 2.0)
    with pytest.raises(np.exceptions.AxisError, match="vecdot"):
        cr.vecdot(a, a, axis=2)


def test_broadcast_arrays_matches_numpy() -> None:
    a, b = np.arange(3.0), np.arange(2.0).reshape(2, 1)
    got = cr.broadcast_arrays(a, cr.tensor(b), 5.0)
    want = np.broadcast_arrays(a, b, 5.0)
    assert isinstance(got, tuple)
    assert len(got) == 3
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(_np(g), w)
    with pytest.raises(ValueError, match=r"broadcast_arrays: shapes \(3,\) and \(2,\)"):
        cr.broadcast_arrays(a, np.ones(2))


# ----- products, signal, numeric, statistics: beyond the op table's rows -----
def test_vdot_flattens_and_keeps_integers() -> None:
    a, b = np.arange(6).reshape(2, 3), np.arange(6)[::-1]
    got = cr.vdot(a, b)
    assert got.dtype == np.vdot(a, b).dtype
    assert got.item() == np.vdot(a, b)
    with pytest.raises(ValueError, match=r"vdot: .*sizes 6 and 5"):
        cr.vdot(a, np.ones(5))


@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_correlate_match_numpy_on_every_length(fn: str, mode: str) -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 6):
        for m in range(1, 6):
            a, v = rng.standard_normal(n), rng.standard_normal(m)
            assert_close(getattr(cr, fn)(a, v, mode), getattr(np, fn)(a, v, mode), rtol=1e-12)
            ai, vi = np.arange(n, dtype=np.int32), np.arange(m, dtype=np.int32) - 2
            got, want = getattr(cr, fn)(ai, vi, mode), getattr(np, fn)(ai, vi, mode)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(_np(got), want)


def test_convolve_and_correlate_errors() -> None:
    with pytest.raises(ValueError, match="convolve: mode must be one of"):
        cr.convolve(np.ones(3), np.ones(2), mode="circular")
    with pytest.raises(ValueError, match=r"correlate: a and v must be 1-D, got shapes \(2, 2\)"):
        cr.correlate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="convolve: a and v must not be empty"):
        cr.convolve(np.ones(0), np.ones(2))
    with pytest.raises(ValueError, match="correlate"):
        cr.correlate(np.float64(1.0), np.ones(2))
    assert_close(cr.convolve(np.array(2.0), [1.0, 3.0]), np.convolve(2.0, [1.0, 3.0]))


def test_trapezoid_gradient_in_x_and_dtypes() -> None:
    y = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    x = np.array([0.0, 0.5, 2.0])
    gx = cr.grad(lambda t: cr.trapezoid(y, t).sum())(x)
    # d/dx_i of sum_j (x_{j+1} - x_j)(y_j + y_{j+1})/2
    s = y.sum(0)
    assert_close(gx, [-(s[0] + s[1]) / 2, (s[0] - s[2]) / 2, (s[1] + s[2]) / 2], rtol=1e-12)
    got = cr.trapezoid(np.arange(5))
    assert got.dtype == cr.get_default_dtype()
    assert got.item() == np.trapezoid(np.arange(5))
    with pytest.raises(ValueError, match="trapezoid"):
        cr.trapezoid(y, np.array([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(np.exceptions.AxisError, match="trapezoid"):
        cr.trapezoid(y, axis=2)


def test_interp_edges_left_right_period_and_errors() -> None:
    xp, fp = np.array([0.0, 1.0, 1.0, 3.0]), np.array([0.0, 2.0, 5.0, 1.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0, np.nan])
    np.testing.assert_allclose(_np(cr.interp(x, xp, fp)), np.interp(x, xp, fp))
    np.testing.assert_allclose(_np(cr.interp(x, xp, fp, left=-7.0, right=9.0)),
                               np.interp(x, xp, fp, left=-7.0, right=9.0))
    xs = np.linspace(-5, 5, 23)
    xpp, fpp = np.array([0.5, 2.0, -1.0, 3.5]), np.array([1.0, -1.0, 2.0, 0.5])
    assert_close(cr.interp(xs, xpp, fpp, period=4.0), np.interp(xs, xpp, fpp, period=4.0),
                 rtol=1e-12)
    assert_close(cr.interp(xs, [1.0], [4.0], left=0.0), np.interp(xs, [1.0], [4.0], left=0.0))
    assert cr.interp(np.arange(3), [0, 2], [0, 4]).dtype == cr.get_default_dtype()
    # the derivative in x: the interval's slope inside, 0 outside
    g = cr.grad(lambda t: cr.interp(t, xp, fp).sum())(np.array([-1.0, 0.5, 2.0, 4.0]))
    np.testing.assert_allclose(_np(g), [0.0, 2.0, -2.0, 0.0])
    # and in the knots xp, both modes against finite differences, away from the knots
    xk, fk = np.array([-0.3, 0.2, 1.4, 2.9]), np.array([0.5, -1.0, 2.0, 0.25])
    assert cr.gradcheck(lambda t: cr.interp(np.array([-1.0, 0.1, 0.6, 2.0, 3.5]), t, fk), (xk,))
    assert cr.gradcheck(lambda t: cr.interp(t, xk, fk, period=4.0), (np.array([0.1, 3.3, -2.5]),))
    with pytest.raises(ValueError, match="interp: fp and xp are not of the same length"):
        cr.interp(x, xp, fp[:3])
    with pytest.raises(ValueError, match="interp: array of sample points is empty"):
        cr.interp(x, [], [])
    with pytest.raises(ValueError, match="interp: period must be a non-zero value"):
        cr.interp(x, xp, fp, period=0)
    with pytest.raises(ValueError, match="interp: xp and fp must be 1-D"):
        cr.interp(x, np.ones((2, 2)), np.ones((2, 2)))


def test_cov_and_corrcoef_edges_and_errors() -> None:
    m = np.array([[1.0, 2.0, 4.0], [2.0, 1.0, 0.5]])
    assert cr.cov(np.ones((0, 3))).shape == (0, 0)
    assert_close(cr.cov(m, dtype=np.float32), np.cov(m, dtype=np.float32), rtol=1e-6)
    assert cr.cov(np.arange(4)).dtype == cr.get_default_dtype()
    assert_close(cr.corrcoef(m[0]), np.corrcoef(m[0]))
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        cr.cov(m, ddof=3)
    with pytest.raises(TypeError, match="cov: fweights must be integer"):
        cr.cov(m, fweights=[1.5, 1, 1])
    with pytest.raises(RuntimeError, match="cov: incompatible numbers of samples and aweights"):
        cr.cov(m, aweights=[1.0, 1.0])
    with pytest.raises(ValueError, match="cov: aweights cannot be negative"):
        cr.cov(m, aweights=[1.0, -1.0, 1.0])
    with pytest.raises(ZeroDivisionError, match="cov: weights sum to zero"):
        cr.cov(m, fweights=[0, 0, 0])
    with pytest.raises(ValueError, match=r"cov: m has more than 2 dimensions"):
        cr.cov(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="cov: m and y have different numbers of observations"):
        cr.cov(m, np.ones((1, 4)))


# ----- index functions -----
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_matches_numpy(side: str) -> None:
    a = np.array([1.0, 2.0, 2.0, 5.0])
    v = np.array([[0.0, 2.0], [5.0, 9.0]])
    got = cr.searchsorted(cr.tensor(a), cr.tensor(v), side=side)
    assert got.dtype == np.int64
    assert not got.requires_grad
    np.testing.assert_array_equal(_np(got), np.searchsorted(a, v, side=side))
    perm = np.array([3, 0, 2, 1])
    unsorted = a[np.argsort(perm)]
    sorter = np.argsort(unsorted)
    np.testing.assert_array_equal(_np(cr.searchsorted(unsorted, v, side, cr.tensor(sorter))),
                                  np.searchsorted(unsorted, v, side, sorter))
    assert cr.searchsorted(a, 2.0).shape == ()
    with pytest.raises(ValueError, match="searchsorted: search side"):
        cr.searchsorted(a, v, side="middle")


@pytest.mark.parametrize("right", [False, True])
def test_digitize_matches_numpy(right: bool) -> None:
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 10.0])
    for bins in (np.array([0.0, 1.0, 2.5]), np.array([2.5, 1.0, 0.0])):
        got = cr.digitize(cr.tensor(x), bins, right=right)
        np.testing.assert_array_equal(_np(got), np.digitize(x, bins, right=right))
        assert got.dtype == np.digitize(x, bins).dtype
    with pytest.raises(ValueError, match="digitize"):
        cr.digitize(x, np.array([0.0, 2.0, 1.0]))


def test_flatnonzero_and_unravel_index_match_numpy() -> None:
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    got = cr.flatnonzero(cr.tensor(a))
    np.testing.assert_array_equal(_np(got), np.flatnonzero(a))
    assert got.dtype == np.flatnonzero(a).dtype
    assert cr.flatnonzero(np.zeros(3)).shape == (0,)
    idx = np.array([[1, 7], [11, 0]])
    for order in ("C", "F"):
        got = cr.unravel_index(cr.tensor(idx), (3, 4), order=order)
        want = np.unravel_index(idx, (3, 4), order=order)
        assert isinstance(got, tuple)
        assert len(got) == 2
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(_np(g), w)
    (flat,) = cr.unravel_index(3, 5)
    assert flat.item() == 3
    with pytest.raises(ValueError, match="unravel_index"):
        cr.unravel_index(12, (3, 4))


@pytest.mark.parametrize("kw", [
    {}, {"return_index": True}, {"return_inverse": True}, {"return_counts": True},
    {"return_index": True, "return_inverse": True, "return_counts": True},
])
def test_unique_matches_numpy(kw: dict) -> None:
    a = np.array([[3.0, 1.0, 3.0], [2.0, 1.0, np.nan], [3.0, 1.0, 3.0]])
    for axis in (None, 0):
        got = cr.unique(cr.tensor(a), axis=axis, **kw)
        want = np.unique(a, axis=axis, **kw)
        got, want = (got, want) if kw else ((got,), (want,))
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(_np(g), w)
    assert cr.unique(np.array([1, 1, 2])).dtype == np.int64
    np.testing.assert_array_equal(_np(cr.unique(np.array([3, 1, 3]), sorted=False)),
                                  np.unique(np.array([3, 1, 3]), sorted=False))


def test_bincount_counts_weights_and_errors() -> None:
    x = np.array([0, 3, 3, 1, 0, 3])
    got = cr.bincount(cr.tensor(x), minlength=6)
    np.testing.assert_array_equal(_np(got), np.bincount(x, minlength=6))
    assert got.dtype == np.bincount(x).dtype
    w = np.array([0.5, 1.0, 2.0, -1.0, 0.25, 3.0])
    assert_close(cr.bincount(x, w), np.bincount(x, w), rtol=1e-12)
    assert cr.bincount(x, w.astype(np.float32)).dtype == np.float32
    wi = cr.bincount(x, np.arange(6))
    assert wi.dtype == cr.get_default_dtype()
    np.testing.assert_array_equal(_np(wi), np.bincount(x, np.arange(6)))
    assert cr.bincount(np.zeros(0, np.int64)).shape == (0,)
    with pytest.raises(ValueError, match=r"bincount: .*negative"):
        cr.bincount(np.array([1, -1]))
    with pytest.raises(ValueError, match=r"bincount: the weights' shape \(2,\)"):
        cr.bincount(x, np.ones(2))
    with pytest.raises(TypeError, match="bincount"):
        cr.bincount(np.array([0.5, 1.0]))


def test_tensor_methods_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a, b = np.array([1.5, -2.0, 0.0, 3.25]), np.array([-1.0, 0.5, 0.5, -2.0])
    ta, tb = torch.tensor(a), torch.tensor(b)
    x, y = cr.tensor(a), cr.tensor(b)
    for name in ("copysign", "fmod", "float_power", "heaviside", "isclose"):
        got, want = getattr(x, name)(y), getattr(ta, name)(tb)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), name
        np.testing.assert_array_equal(_np(got), want.cpu().numpy(), err_msg=name)
    np.testing.assert_array_equal(_np(x.positive()), ta.positive().cpu().numpy())
