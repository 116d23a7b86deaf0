"""NumPy's non-differentiable reductions in cr (all, any, argsort, nanargmax, nanargmin) against
NumPy, and the differentiable ones' NaN handling (their values are in the op table)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

NAN = np.nan
X = np.array([[1.0, NAN, 3.0, -2.0], [NAN, NAN, NAN, NAN], [0.0, 5.0, 5.0, NAN]])
FINITE = np.array([[3.0, 1.0, 2.0], [2.0, 2.0, 0.0]])
AXES = [None, 0, 1, -1, (0, 1), (-1, 0)]


def _same(got: cr.Tensor, want: np.ndarray) -> None:
    assert isinstance(got, cr.Tensor)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.cpu().numpy(), want)


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_all_any_match_numpy(name: str, axis, keepdims: bool) -> None:
    for a in (X, X > 0, FINITE.astype(np.int64), np.zeros((0, 3))):
        want = getattr(np, name)(a, axis=axis, keepdims=keepdims)
        _same(getattr(cr, name)(a, axis=axis, keepdims=keepdims), np.asarray(want))
        _same(getattr(cr, name)(cr.tensor(a), axis, None, keepdims), np.asarray(want))


def test_all_any_are_not_differentiable_and_take_torch_keywords() -> None:
    t = cr.tensor(FINITE, requires_grad=True)
    out = cr.all(t > 1, dim=1, keepdim=True)
    assert not out.requires_grad
    _same(out, np.all(FINITE > 1, axis=1, keepdims=True))
    _same(cr.any(3.0), np.asarray(True))


@pytest.mark.parametrize("name", ["all", "any", "nansum", "nanmean", "nanmax", "nanvar",
                                  "nanargmax", "ptp"])
def test_bad_axis_names_the_function_and_the_axis(name: str) -> None:
    with pytest.raises(np.exceptions.AxisError, match=rf"{name}: axis 2 is out of bounds"):
        getattr(cr, name)(FINITE, axis=2)
    if name != "nanargmax":
        with pytest.raises(ValueError, match=rf"{name}: repeated axis"):
            getattr(cr, name)(FINITE, axis=(0, -2))


@pytest.mark.parametrize("axis", [-1, 0, None])
@pytest.mark.parametrize("kind", [None, "stable", "quicksort", "mergesort", "heapsort"])
def test_argsort_matches_numpy(axis, kind) -> None:
    a = np.array([[3, 1, 2, 1], [0, 5, 5, -1]])
    got = cr.argsort(a, axis=axis, kind=kind)
    want = np.argsort(a, axis=axis, kind=kind)
    if kind in (None, "stable", "mergesort"):  # the others need not be stable: compare values
        _same(got, want.astype(np.int64))
    flat = a.reshape(-1) if axis is None else a
    np.testing.assert_array_equal(np.take_along_axis(flat, got.cpu().numpy(), -1 if axis is None
                                                     else axis),
                                  np.sort(a, axis=axis))


def test_argsort_edge_cases() -> None:
    _same(cr.argsort(np.array([2.0, NAN, 1.0]), stable=True), np.array([2, 0, 1]))
    _same(cr.argsort(np.array(3.0)), np.array([0]))
    _same(cr.argsort(np.zeros((0, 2))), np.zeros((0, 2), np.int64))
    _same(cr.argsort(cr.tensor([True, False])), np.array([1, 0]))
    t = cr.tensor(FINITE, requires_grad=True)
    assert not cr.argsort(t).requires_grad
    with pytest.raises(np.exceptions.AxisError, match="argsort: axis 2 is out of bounds"):
        cr.argsort(FINITE, axis=2)
    with pytest.raises(ValueError, match="argsort: order="):
        cr.argsort(FINITE, order="x")


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_nanargmax_nanargmin_match_numpy(name: str, keepdims: bool) -> None:
    a = np.delete(X, 1, axis=0)  # no all-NaN row
    for axis in (None, 0, 1, -1):
        want = getattr(np, name)(a, axis=axis, keepdims=keepdims)
        _same(getattr(cr, name)(a, axis=axis, keepdims=keepdims), np.asarray(want).astype(np.int64))
    _same(getattr(cr, name)(FINITE.astype(np.int32), 0), getattr(np, name)(FINITE, 0))
    _same(getattr(cr, name)(np.array(2.0)), np.asarray(0))


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
def test_nanargmax_all_nan_slice_raises(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: all-NaN slice"):
        getattr(cr, name)(X, axis=1)
    with pytest.raises(ValueError, match=f"{name}: all-NaN slice"):
        getattr(cr, name)(np.full(3, NAN))
    with pytest.raises(ValueError, match="empty sequence"):
        getattr(cr, name)(np.zeros(0))


@pytest.mark.parametrize("name", ["nansum", "nanprod", "nanmean", "nanmax", "nanmin", "nanvar",
                                  "nanstd"])
@pytest.mark.parametrize("axis", AXES)
def test_nan_reductions_match_numpy_with_all_nan_slices(name: str, axis) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.asarray(getattr(np, name)(X, axis=axis, keepdims=True))
        got = getattr(cr, name)(X, axis=axis, keepdims=True)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("name", ["nansum", "nanprod", "nanmean", "nanmax", "nanmin", "nanvar",
                                  "nanstd"])
def test_nan_reductions_give_nans_gradient_zero(name: str) -> None:
    t = cr.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = getattr(cr, name)(t, axis=1)
    cr.where(cr.isnan(out), 0.0, out).sum().backward()
    g = t.grad.cpu().numpy()
    assert np.isfinite(g).all()
    assert (g[np.isnan(X)] == 0).all()


def test_nan_reductions_follow_the_dtype_rule() -> None:
    i = np.array([[1, 2], [3, 5]], np.int32)
    _same(cr.nansum(i, 0), np.nansum(i, 0))
    _same(cr.nanmax(i), np.asarray(np.nanmax(i)))
    assert cr.nanmean(i).dtype == cr.float32
    assert cr.nanstd(i, ddof=1).dtype == cr.float32
    f = X.astype(np.float32)
    for name in ("nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanprod"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert getattr(cr, name)(f, 0).dtype == np.float32, name


def test_nan_reductions_warn_as_numpy() -> None:
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        cr.nanmean(X, 1)
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        cr.nanmax(X, 1)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        cr.nanvar(np.array([1.0, NAN]), ddof=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.nanmean(FINITE, 1)
        cr.nanvar(FINITE, 0, ddof=1)
        cr.nanmax(FINITE)


def test_ptp_amax_amin() -> None:
    _same(cr.ptp(FINITE, 1), np.ptp(FINITE, 1))
    _same(cr.ptp(np.array([1, 7], np.int32)), np.asarray(np.ptp(np.array([1, 7], np.int32))))
    assert cr.amax is cr.max
    assert cr.amin is cr.min
    with pytest.raises(TypeError, match="ptp"):
        cr.ptp(np.array([True, False]))
    with pytest.raises(ValueError, match="ptp: cannot reduce a zero-size axis"):
        cr.ptp(np.zeros((0, 2)), axis=0)


def test_cumulative_sum() -> None:
    a = np.arange(6).reshape(2, 3)
    _same(cr.cumulative_sum(a, axis=1, include_initial=True),
          np.cumulative_sum(a, axis=1, include_initial=True))
    _same(cr.cumulative_sum(np.arange(4.0)), np.cumulative_sum(np.arange(4.0)))
    _same(cr.cumulative_sum(np.zeros(0), include_initial=True), np.zeros(1))
    with pytest.raises(ValueError, match=r"cumulative_sum: axis must be given .* \(2, 3\)"):
        cr.cumulative_sum(a)
    with pytest.raises(np.exceptions.AxisError, match="cumulative_sum: axis 2"):
        cr.cumulative_sum(a, axis=2)


# ----- order statistics and average (values and gradients are in the op table too) -----
A = np.random.default_rng(0).standard_normal((3, 4, 5))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_quantiles_match_numpy_on_tuple_axes(axis, keepdims: bool) -> None:
    for q in (0.3, np.array([0.0, 0.5, 1.0]), np.array([[0.1, 0.25], [0.75, 0.9]])):
        for cr_fn, np_fn, scale in ((cr.quantile, np.quantile, 1), (cr.percentile,
                                                                     np.percentile, 100)):
            got = cr_fn(A, q * scale, axis=axis, keepdims=keepdims)
            want = np_fn(A, q * scale, axis=axis, keepdims=keepdims)
            assert got.shape == want.shape
            np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12)
    for name in ("median", "nanmedian"):
        got = getattr(cr, name)(A, axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(got.cpu().numpy(), getattr(np, name)(A, axis=axis,
                                                                  keepdims=keepdims))


def test_quantile_nans_ints_and_errors() -> None:
    b = A.copy()
    b[0, 1, :] = NAN
    b[1, 2, 3] = NAN
    for axis in (None, 0, -1, (0, 2)):
        for name in ("median", "nanmedian", "quantile"):
            args = (0.3,) if name == "quantile" else ()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                np.testing.assert_allclose(getattr(cr, name)(b, *args, axis=axis).cpu().numpy(),
                                           getattr(np, name)(b, *args, axis=axis))
    i = np.array([[3, 1, 2, 8]], np.int32)
    assert cr.median(i).dtype == cr.float32
    assert cr.quantile(i, 0.5, axis=1).dtype == cr.float32
    np.testing.assert_allclose(cr.median(np.array([True, False, True])).cpu().numpy(), 1.0)
    with pytest.raises(ValueError, match=r"quantile: quantiles must be in the range \[0, 1\]"):
        cr.quantile(A, 1.5)
    with pytest.raises(ValueError, match=r"percentile: percentiles must be in the range"):
        cr.percentile(A, -1)
    with pytest.raises(ValueError, match="quantile: method 'nearest' is not supported"):
        cr.quantile(A, 0.5, method="nearest")
    with pytest.raises(TypeError, match="quantile: numpy boolean subtract"):
        cr.quantile(np.array([True]), 0.5)
    with pytest.raises(IndexError, match="quantile: cannot take a quantile of an empty slice"):
        cr.quantile(np.zeros(0), 0.5)
    with pytest.raises(np.exceptions.AxisError, match="median: axis 3 is out of bounds"):
        cr.median(A, axis=3)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        assert np.isnan(cr.median(np.zeros(0)).item())
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        got = cr.nanmedian(np.array([[1.0, NAN], [NAN, NAN]]), 1)
    np.testing.assert_array_equal(got.cpu().numpy(), [1.0, NAN])


def test_order_statistics_gradients_go_to_the_selected_entries() -> None:
    t = cr.tensor([4.0, 1.0, 3.0, 2.0], requires_grad=True)
    cr.median(t).backward()
    np.testing.assert_array_equal(t.grad.cpu().numpy(), [0.0, 0.0, 0.5, 0.5])
    t = cr.tensor([4.0, 1.0, 3.0, 2.0], requires_grad=True)
    cr.quantile(t, 0.1).backward()  # position 0.3 between 1 and 2
    np.testing.assert_allclose(t.grad.cpu().numpy(), [0.0, 0.7, 0.0, 0.3])
    t = cr.tensor([4.0, NAN, 3.0, 1.0, NAN], requires_grad=True)
    cr.nanmedian(t).backward()
    np.testing.assert_array_equal(t.grad.cpu().numpy(), [0.0, 0.0, 1.0, 0.0, 0.0])


def test_average_matches_numpy() -> None:
    w = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    for axis in (None, 0, -1, (0, 2)):
        for keepdims in (False, True):
            got = cr.average(A, axis, returned=True, keepdims=keepdims)
            want = np.average(A, axis, returned=True, keepdims=keepdims)
            for g, ww in zip(got, want, strict=True):
                np.testing.assert_allclose(g.cpu().numpy(), ww)
                assert g.shape == np.shape(ww)
    got = cr.average(A, -1, w, returned=True)
    want = np.average(A, -1, w, returned=True)
    for g, ww in zip(got, want, strict=True):
        np.testing.assert_allclose(g.cpu().numpy(), ww)
    w2 = np.random.default_rng(1).uniform(0.5, 2, (5, 3))
    np.testing.assert_allclose(cr.average(A, (2, 0), w2).cpu().numpy(), np.average(A, (2, 0), w2))
    assert cr.average(np.array([1, 2, 4], np.int32), weights=[1, 2, 3]).dtype == cr.float32
    with pytest.raises(TypeError, match="average: axis must be given"):
        cr.average(A, weights=w)
    with pytest.raises(ValueError, match="average: weights of shape"):
        cr.average(A, 0, w)
    with pytest.raises(ZeroDivisionError, match="average: weights sum to zero"):
        cr.average(np.ones(2), weights=np.array([1.0, -1.0]))
    a, wt = cr.tensor(A[0, 0], requires_grad=True), cr.tensor(w, requires_grad=True)
    cr.average(a, weights=wt).backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), w / w.sum())
    np.testing.assert_allclose(wt.grad.cpu().numpy(), (A[0, 0] - np.average(A[0, 0], weights=w))
                               / w.sum())


def test_take_along_axis() -> None:
    idx = np.argsort(A, axis=1)
    np.testing.assert_array_equal(cr.take_along_axis(A, idx, 1).cpu().numpy(), np.sort(A, axis=1))
    np.testing.assert_array_equal(cr.take_along_axis(A, cr.argsort(A, axis=1), 1).cpu().numpy(),
                                  np.sort(A, axis=1))
    i = np.array([[[-1]], [[0]], [[2]]])
    np.testing.assert_array_equal(cr.take_along_axis(A, i, 2).cpu().numpy(),
                                  np.take_along_axis(A, i, 2))
    np.testing.assert_array_equal(cr.take_along_axis(A, np.array([5, -1]), None).cpu().numpy(),
                                  np.take_along_axis(A, np.array([5, -1]), None))
    t = cr.tensor(np.arange(3.0), requires_grad=True)
    cr.take_along_axis(t, np.array([2, 2, 0]), 0).sum().backward()
    np.testing.assert_array_equal(t.grad.cpu().numpy(), [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match=r"take_along_axis: indices .* same number of dimensions"):
        cr.take_along_axis(A, np.array([0]), 0)
    with pytest.raises(ValueError, match="take_along_axis: when axis is None"):
        cr.take_along_axis(A, idx, None)
    with pytest.raises(np.exceptions.AxisError, match="take_along_axis: axis 3"):
        cr.take_along_axis(A, idx, 3)
    with pytest.raises(IndexError, match="take_along_axis: indices must be an integer array"):
        cr.take_along_axis(A, idx.astype(float), 1)
