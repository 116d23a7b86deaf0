"""ops/pool_more.py's layers against PyTorch: adaptive max pooling (values, indices, PyTorch's tie,
NaN and -inf rules, gradients), LP pooling (every norm_type kind, PyTorch's zero gradient where
a window's sum is 0) and max unpooling (output sizes, gradients); their rules (both modes,
second order, batched = separate, float32 kept) and errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from reference import assert_close

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module


def _input(rng, nd, dtype=np.float64, n=2):
    x = rng.standard_normal((n, 3, *((11,) if nd == 1 else (7, 9))))
    return np.round(x, 1).astype(dtype)  # rounded: bins hold ties


def _torch_grad(fn, x, g):
    import torch

    tx = torch.tensor(x, requires_grad=True)
    y = fn(tx)
    y = y[0] if isinstance(y, tuple) else y
    y.backward(torch.tensor(g))
    return y.detach().cpu().numpy(), tx.grad.cpu().numpy()


def _cr_grad(fn, x, g):
    xs = cr.tensor(x, requires_grad=True)
    y = fn(xs)
    y = y[0] if isinstance(y, tuple) else y
    y.backward(cr.tensor(g))
    return y.cpu().numpy(), xs.grad.cpu().numpy()


# ----- adaptive max pooling -----
SIZES_2D = [1, 2, 3, (4, 5), (7, 9), (9, 12), (None, 3), (5, None), (6, 1)]
SIZES_1D = [1, 3, 4, 11, 13, (5,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES_2D, ids=str)
def test_adaptive_max_pool2d_matches_torch(size, dtype, rng):
    torch = pytest.importorskip("torch")
    compare_module(nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size),
                   [_input(rng, 2)], dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES_1D, ids=str)
def test_adaptive_max_pool1d_matches_torch(size, dtype, rng):
    torch = pytest.importorskip("torch")
    compare_module(nn.AdaptiveMaxPool1d(size), torch.nn.AdaptiveMaxPool1d(size),
                   [_input(rng, 1)], dtype, rng)


@pytest.mark.parametrize(("nd", "size"), [(2, s) for s in SIZES_2D] + [(1, s) for s in SIZES_1D],
                         ids=str)
def test_adaptive_max_pool_indices_match_torch(nd, size, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = _input(rng, nd)
    ours = [getattr(F, f"adaptive_max_pool{nd}d")(x, size, True),
            getattr(F, f"adaptive_max_pool{nd}d")(x, size, return_indices=True),
            getattr(F, f"adaptive_max_pool{nd}d_with_indices")(x, size),
            getattr(nn, f"AdaptiveMaxPool{nd}d")(size, return_indices=True)(x)]
    ty, ti = getattr(tf, f"adaptive_max_pool{nd}d")(torch.tensor(x), size, return_indices=True)
    for y, idx in ours:
        np.testing.assert_array_equal(y.cpu().numpy(), ty.numpy())
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.cpu().numpy(), ti.numpy())
    y, idx = getattr(F, f"adaptive_max_pool{nd}d")(x[0], size, True)  # unbatched (C, *S)
    ty, ti = getattr(tf, f"adaptive_max_pool{nd}d")(torch.tensor(x[0]), size,
                                                     return_indices=True)
    np.testing.assert_array_equal(y.cpu().numpy(), ty.numpy())
    np.testing.assert_array_equal(idx.cpu().numpy(), ti.numpy())


def test_adaptive_max_pool_ties_go_to_the_first_in_row_major_order():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 2, 5, 7))  # every bin is one tie; neighbouring bins overlap
    for size in (1, 2, (3, 4), (4, 6)):
        y = F.adaptive_max_pool2d(x, size)
        g = np.arange(1.0, y.size + 1).reshape(y.shape)
        _, got = _cr_grad(lambda t, s=size: F.adaptive_max_pool2d(t, s), x, g)
        _, want = _torch_grad(lambda t, s=size: torch.nn.functional.adaptive_max_pool2d(t, s),
                              x, g)
        np.testing.assert_array_equal(got, want)


def test_adaptive_max_pool_nan_and_neg_inf_as_torch():
    torch = pytest.importorskip("torch")
    nan, inf = np.nan, np.inf
    cases = [
        (np.array([[[1.0, nan, 2.0, nan, 0.0]]]), 1),  # the last NaN
        (np.array([[[[1.0, nan], [nan, 0.0]]]]), 1),
        (np.full((1, 1, 3, 3), -inf), 2),  # a bin of -inf: its first position
        (np.array([[[-inf, 2.0, -inf, -inf, -inf]]]), 3),
        (np.array([[[[inf, 1.0, nan], [2.0, inf, 0.0]]]]), (1, 2)),
    ]
    for x, size in cases:
        nd = x.ndim - 2
        ours = getattr(F, f"adaptive_max_pool{nd}d")
        theirs = getattr(torch.nn.functional, f"adaptive_max_pool{nd}d")
        y, idx = ours(x, size, True)
        ty, ti = theirs(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(y.cpu().numpy(), ty.numpy())
        np.testing.assert_array_equal(idx.cpu().numpy(), ti.numpy())
        g = np.arange(1.0, y.size + 1).reshape(y.shape)
        _, got = _cr_grad(lambda t, f=ours, s=size: f(t, s), x, g)
        _, want = _torch_grad(lambda t, f=theirs, s=size: f(t, s), x, g)
        np.testing.assert_array_equal(got, want)


def test_adaptive_max_pool_empty_output_as_torch(rng):
    torch = pytest.importorskip("torch")
    x = _input(rng, 2)
    for size in (0, (0, 2), (3, 0)):
        y, idx = F.adaptive_max_pool2d(x, size, True)
        ty, ti = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size, True)
        assert y.shape == tuple(ty.shape)
        assert idx.shape == tuple(ti.shape)
        xs = cr.tensor(x, requires_grad=True)
        F.adaptive_max_pool2d(xs, size).sum().backward()
        np.testing.assert_array_equal(xs.grad.cpu().numpy(), np.zeros_like(x))


# ----- LP pooling -----
# (norm_type, kernel, stride, ceil_mode)
LP_OPTIONS = [(p, k, s, c) for p, (k, s, c) in itertools.product(
    (1, 2, 3, 1.5, np.inf, -np.inf), ((2, None, False), (3, 2, True), (2, 1, False),
                                     ((2, 3), (1, 2), True)))]


def _lp_input(rng, nd, p, dtype=np.float64):
    x = _input(rng, nd)
    if p == 1.5:
        x = np.abs(x)  # a fractional power of a negative number is NaN (in PyTorch too)
    x[..., :2] = 0.0  # windows of zeros: PyTorch's gradient there is 0
    return x.astype(dtype)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("options", LP_OPTIONS, ids=str)
def test_lp_pool_matches_torch(nd, options, rng):
    torch = pytest.importorskip("torch")
    p, k, s, c = options
    if nd == 1:
        k = k if isinstance(k, int) else k[1]  # PyTorch's lp_pool1d takes an int kernel_size
        s = s if s is None or isinstance(s, int) else s[1]
    t_cls, c_cls = ((torch.nn.LPPool1d, nn.LPPool1d) if nd == 1
                    else (torch.nn.LPPool2d, nn.LPPool2d))
    for dtype in DTYPES:
        compare_module(c_cls(p, k, s, c), t_cls(p, k, s, c), [_lp_input(rng, nd, p)], dtype,
                       rng)


def test_lp_pool_odd_power_of_negative_windows_is_nan_as_torch(rng):
    """sum(x^3) < 0 in a window: a NaN value and NaN gradients there, as PyTorch."""
    torch = pytest.importorskip("torch")
    x = np.array([[[1.0, -2.0, 0.5, 0.5, 0.0, 0.0]]])
    g = np.ones((1, 1, 3))
    got_y, got_g = _cr_grad(lambda t: F.lp_pool1d(t, 3, 2), x, g)
    want_y, want_g = _torch_grad(lambda t: torch.nn.functional.lp_pool1d(t, 3, 2), x, g)
    assert np.isnan(got_y[0, 0, 0])
    assert np.isnan(got_g[0, 0, :2]).all()
    close(got_y, want_y, np.float64, "value")
    close(got_g, want_g, np.float64, "gradient")


# ----- max unpooling -----
# (kernel, stride, padding, output_size: the pooled input's size, that plus one, with N and C;
# the pooled input's size (2-d; 1-d: the last), one that unpooling's default size restores)
UNPOOL_OPTIONS = [(2, None, 0, None, (8, 10)), (3, 2, 1, None, (7, 9)), (2, 1, 0, None, (7, 9)),
                  (3, 2, 1, "size", (8, 10)), (3, 2, 1, "size+1", (7, 9)),
                  ((2, 3), (2, 3), (1, 0), None, (8, 9)), (2, 2, 0, "N, C, size", (7, 9))]


def _pooled(rng, shape, k, s, p):
    """A max pooling's output and indices (PyTorch's): unpooling's input."""
    import torch

    x = torch.tensor(rng.standard_normal((2, 3, *shape)))
    y, idx = getattr(torch.nn.functional, f"max_pool{len(shape)}d")(x, k, s, p,
                                                                     return_indices=True)
    return y.numpy(), idx.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("options", UNPOOL_OPTIONS, ids=str)
def test_max_unpool_matches_torch(options, nd, dtype, rng):
    torch = pytest.importorskip("torch")
    k, s, p, out, size = options
    if nd == 1:
        k, s, p = (v[-1] if isinstance(v, tuple) else v for v in (k, s, p))
        size = (size[-1] + 2,) if k == 2 and p == 1 else size[-1:]  # 1-d: 12 or 10
    y, idx = _pooled(rng, size, k, s, p)
    out = {None: None, "size": size, "size+1": tuple(n + 1 for n in size),
           "N, C, size": (2, 3, *size)}[out]
    t_cls, c_cls = ((torch.nn.MaxUnpool1d, nn.MaxUnpool1d) if nd == 1
                    else (torch.nn.MaxUnpool2d, nn.MaxUnpool2d))
    compare_module(c_cls(k, s, p), t_cls(k, s, p), [y, idx], dtype, rng,
                   call=lambda m, a, i: m(a, i, output_size=out))
    f = getattr(F, f"max_unpool{nd}d")
    tf = getattr(torch.nn.functional, f"max_unpool{nd}d")
    close(f(y[0], idx[0], k, s, p, out), tf(torch.tensor(y[0]), torch.tensor(idx[0]), k, s, p,
                                             out), np.float64, "unbatched")


def test_max_unpool_inverts_max_pool_where_maxima_are(rng):
    x = rng.standard_normal((2, 3, 6, 8))
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    u = nn.MaxUnpool2d(2)(y, idx)
    kept = u.cpu().numpy() != 0
    assert kept.sum() == y.size
    np.testing.assert_array_equal(u.cpu().numpy()[kept], x[kept])


# ----- the rules: finite differences, both modes, second order, batched -----
POOLS = {
    "adaptive_max": lambda x: F.adaptive_max_pool2d(x, (3, 2)),
    "adaptive_max_wide": lambda x: F.adaptive_max_pool2d(x, (7, 3)),
    "adaptive_max1d": lambda x: F.adaptive_max_pool1d(x, 3),
    "lp2": lambda x: F.lp_pool2d(x, 2, 2, 1),
    "lp3_ceil": lambda x: F.lp_pool2d(x, 3, (2, 3), 2, True),
    "lp1d": lambda x: F.lp_pool1d(x, 1.5, 2),
    "lp_inf": lambda x: F.lp_pool2d(x, np.inf, 2),
    "unpool": lambda x: F.max_unpool2d(x, np.array([[[[0, 3], [9, 14]]] * 2]), 2),
    "unpool1d": lambda x: F.max_unpool1d(x, np.array([[[0, 3, 2]] * 2]), 2, 1),
}


def _sample_for(name, rng):
    """Values far apart and positive, so finite differences cross no tie of a max and no
    power of a negative number."""
    shape = {"unpool": (1, 2, 2, 2), "unpool1d": (1, 2, 3)}.get(
        name, (2, 2, 7) if name.endswith("1d") else (2, 2, 5, 4))
    return 1.0 + rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.1


@pytest.mark.parametrize("name", list(POOLS))
def test_pool_gradcheck_and_second_order(name, rng):
    f = POOLS[name]
    x = _sample_for(name, rng)
    assert cr.gradcheck(f, [x])
    w = rng.standard_normal(f(x).shape)
    assert cr.gradcheck(cr.grad(lambda x: (f(x) * f(x) * w).sum()), [x])
    u = rng.standard_normal(x.shape)
    assert cr.gradcheck(lambda x: cr.jvp(f, (x,), (u,))[1], [x])


@pytest.mark.parametrize("name", list(POOLS))
def test_pool_batched_equals_separate(name, rng):
    f = POOLS[name]
    x = _sample_for(name, rng)
    out, vjp_fn = cr.vjp(f, x)
    vs = rng.standard_normal((3, *out.shape))
    (batched,) = vjp_fn(vs)
    us = rng.standard_normal((3, *x.shape))
    _, jb = cr.jvp(f, (x,), (us,))
    for k in range(3):
        assert_close(batched.cpu().numpy()[k], vjp_fn(vs[k])[0], rtol=1e-12, atol=1e-14)
        assert_close(jb.cpu().numpy()[k], cr.jvp(f, (x,), (us[k],))[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["adaptive_max", "lp3_ceil", "unpool"])
def test_pool_hessian_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    from reference import torch_hessian

    tf = torch.nn.functional
    theirs = {"adaptive_max": lambda x: tf.adaptive_max_pool2d(x, (3, 2)),
              "lp3_ceil": lambda x: tf.lp_pool2d(x, 3, (2, 3), 2, True),
              "unpool": lambda x: tf.max_unpool2d(
                  x, torch.tensor([[[[0, 3], [9, 14]]] * 2]), 2)}[name]
    f = POOLS[name]
    x = _sample_for(name, rng)
    w = rng.standard_normal(f(x).shape)
    got = cr.hessian(lambda x: (f(x) * f(x) * w).sum())(x)
    with warnings.catch_warnings():  # vmap has no batching rule for max_unpool2d: slower
        warnings.filterwarnings("ignore", "There is a performance drop", UserWarning)
        want = torch_hessian(lambda x: (theirs(x) * theirs(x) * torch.tensor(w)).sum(), [x])
    assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(POOLS))
def test_float32_stays_float32(name, rng):
    f = POOLS[name]
    x = cr.tensor(_sample_for(name, rng).astype(np.float32), requires_grad=True)
    y = f(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    _, d = cr.jvp(f, (x.cpu().numpy(),), (np.ones((2, *x.shape), np.float32),))
    assert d.dtype == np.float32


def test_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for name, args in [("AdaptiveMaxPool2d", ((None, 2),)), ("AdaptiveMaxPool1d", (3, True)),
                       ("LPPool2d", (2, 3)), ("LPPool1d", (1.5, 3, 2, True)),
                       ("MaxUnpool2d", (2,)), ("MaxUnpool2d", ((2, 3), 1, (1, 0))),
                       ("MaxUnpool1d", (3, 2, 1))]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# ----- errors -----
@pytest.mark.parametrize(("fn", "args", "error", "match"), [
    (F.adaptive_max_pool2d, (np.zeros((4, 4)), 2), ValueError,
     r"adaptive_max_pool2d: expected a 3-d \(C, \*S\) or 4-d \(N, C, \*S\) input, got shape "
     r"\(4, 4\)"),
    (F.adaptive_max_pool2d, (np.zeros((1, 1, 4, 4)), (2, 2, 2)), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a tuple of 2 ints \(or None\), got "
     r"\(2, 2, 2\)"),
    (F.adaptive_max_pool1d, (np.zeros((1, 1, 4)), (2, 3)), ValueError,
     "adaptive_max_pool1d: output_size must be an int or a tuple of 1 ints"),
    (F.adaptive_max_pool2d, (np.zeros((1, 1, 4, 4)), (2, -1)), ValueError,
     r"adaptive_max_pool2d: output_size \(2, -1\) must not be negative"),
    (F.adaptive_max_pool2d, (np.zeros((2, 3, 0, 4)), 2), ValueError,
     r"adaptive_max_pool2d: expected an input with non-zero sizes in its pooled axes, got "
     r"shape \(2, 3, 0, 4\)"),
    (F.adaptive_max_pool2d, (np.zeros((1, 1, 4, 4), np.int64), 2), TypeError,
     "adaptive_max_pool2d: expected a floating-point input, got int64"),
    (F.lp_pool2d, (np.zeros((1, 1, 4, 4)), 0, 2), ValueError,
     "lp_pool2d: norm_type must be non-zero, got 0"),
    (F.lp_pool2d, (np.zeros((1, 1, 4, 4)), 2, 5), ValueError,
     r"lp_pool2d: input of shape \(1, 1, 4, 4\) is too small for kernel_size \(5, 5\)"),
    (F.lp_pool1d, (np.zeros(5), 2, 2), ValueError,
     r"lp_pool1d: expected a 2-d \(C, \*S\) or 3-d \(N, C, \*S\) input, got shape \(5,\)"),
    (F.max_unpool2d, (np.zeros((1, 2, 2, 2)), np.zeros((1, 1, 2, 2), np.int64), 2), ValueError,
     r"max_unpool2d: indices of shape \(1, 1, 2, 2\) do not match input of shape "
     r"\(1, 2, 2, 2\)"),
    (F.max_unpool2d, (np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2, 2)), 2), TypeError,
     "max_unpool2d: indices must be integers, got float64"),
    (F.max_unpool2d, (np.zeros((1, 1, 2, 2)), np.array([[[[0, 1], [2, 16]]]]), 2), IndexError,
     "max_unpool2d: found an invalid max index 16 \\(output planes are of size 4x4\\)"),
    (F.max_unpool1d, (np.zeros((1, 1, 2)), np.array([[[0, -1]]]), 2), IndexError,
     r"max_unpool1d: found an invalid max index -1 \(output planes are of size 4\)"),
    (F.max_unpool2d, (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64), 2, None, 0,
                      (6, 4)), ValueError,
     r"max_unpool2d: invalid output_size \(6, 4\) \(dim 0 must be between 2 and 6\)"),
    (F.max_unpool2d, (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64), 2, None, 0,
                      (4,)), ValueError,
     r"max_unpool2d: output_size should be a sequence of 2 or 4 ints, got \(4,\)"),
])
def test_errors_name_the_op_and_values(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args)
