"""Pooling layers against PyTorch (outputs and input gradients over the option grid, float64 and
float32), PyTorch's tie, NaN and -inf rules for max pooling, the rules of the pooling ops
(both modes, second order, batched = separate), and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from reference import assert_close

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.ops import pool as P

from .torch_port import DTYPES, close, compare_module

# (kernel, stride, padding, dilation, ceil_mode)
MAX_OPTIONS = [(k, s, p, d, c) for k, s, p, d, c in itertools.product(
    (2, 3), (None, 1), (0, 1), (1, 2), (False, True)) if (k + p + d + c) % 2 == 0] + [
    (1, None, 0, 1, False), (2, 3, 1, 1, True), (3, 3, 1, 2, False)]
# (kernel, stride, padding, ceil_mode, count_include_pad)
AVG_OPTIONS = [(k, s, p, c, i) for k, s, p, c, i in itertools.product(
    (2, 3), (None, 1), (0, 1), (False, True), (True, False)) if (k + (s is None) + c + i) % 2] + [
    (1, None, 0, False, True), (3, 3, 1, True, False), (2, 3, 1, True, True)]
F32_MAX = [(2, None, 0, 1, False), (3, 2, 1, 2, True)]
F32_AVG = [(2, None, 0, False, True), (3, 2, 1, True, False)]


def _input(rng, nd, dtype=np.float64, n=2):
    x = rng.standard_normal((n, 3, *((11,) if nd == 1 else (7, 8))))
    return np.round(x, 1).astype(dtype)  # rounded: windows hold ties


def _max_cases():
    return ([(o, np.float64) for o in MAX_OPTIONS] + [(o, np.float32) for o in F32_MAX])


def _avg_cases():
    return ([(o, np.float64) for o in AVG_OPTIONS] + [(o, np.float32) for o in F32_AVG])


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize(("options", "dtype"), _max_cases(), ids=str)
def test_max_pool_matches_torch(nd, options, dtype, rng):
    torch = pytest.importorskip("torch")
    k, s, p, d, c = options
    t_cls, c_cls = ((torch.nn.MaxPool1d, nn.MaxPool1d) if nd == 1
                    else (torch.nn.MaxPool2d, nn.MaxPool2d))
    tm, m = t_cls(k, s, p, d, ceil_mode=c), c_cls(k, s, p, d, ceil_mode=c)
    compare_module(m, tm, [_input(rng, nd)], dtype, rng)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize(("options", "dtype"), _avg_cases(), ids=str)
def test_avg_pool_matches_torch(nd, options, dtype, rng):
    torch = pytest.importorskip("torch")
    k, s, p, c, i = options
    t_cls, c_cls = ((torch.nn.AvgPool1d, nn.AvgPool1d) if nd == 1
                    else (torch.nn.AvgPool2d, nn.AvgPool2d))
    tm, m = t_cls(k, s, p, c, i), c_cls(k, s, p, c, i)
    compare_module(m, tm, [_input(rng, nd)], dtype, rng)


@pytest.mark.parametrize("divisor", [1, 3])
def test_avg_pool2d_divisor_override(divisor, rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.AvgPool2d(3, 2, 1, divisor_override=divisor)
    compare_module(nn.AvgPool2d(3, 2, 1, divisor_override=divisor), tm, [_input(rng, 2)],
                   np.float64, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 2, 3, (5, 2), (7, 8), (9, 11), (None, 3)], ids=str)
def test_adaptive_avg_pool2d_matches_torch(size, dtype, rng):
    torch = pytest.importorskip("torch")
    compare_module(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size),
                   [_input(rng, 2)], dtype, rng)


@pytest.mark.parametrize("size", [1, 4, 11, 13])
def test_adaptive_avg_pool1d_matches_torch(size, rng):
    torch = pytest.importorskip("torch")
    compare_module(nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size),
                   [_input(rng, 1)], np.float64, rng)


def test_unbatched_inputs_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = _input(rng, 2)[0]
    for m, tm in [(nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
                  (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)),
                  (nn.AdaptiveAvgPool2d(2), torch.nn.AdaptiveAvgPool2d(2))]:
        compare_module(m, tm, [x], np.float64, rng)


def _torch_grad(fn, x, g):
    import torch

    tx = torch.tensor(x, requires_grad=True)
    y = fn(tx)
    y.backward(torch.tensor(g))
    return y.detach().cpu().numpy(), tx.grad.cpu().numpy()


def test_max_pool_ties_go_to_the_first_in_window_order():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 1, 4, 4))  # every window is one tie; overlapping windows too
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        y = F.max_pool2d(cr.tensor(x, requires_grad=True), **kw)
        g = np.arange(1.0, y.size + 1).reshape(y.shape)
        _, want_g = _torch_grad(lambda t, kw=kw: torch.nn.functional.max_pool2d(t, **kw), x, g)
        xs = cr.tensor(x, requires_grad=True)
        F.max_pool2d(xs, **kw).backward(cr.tensor(g))
        assert_close(xs.grad, want_g)


def test_max_pool_nan_and_neg_inf_as_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (np.array([[[[1.0, np.nan], [np.nan, 0.0]]]]), dict(kernel_size=2)),  # the last NaN
        (np.full((1, 1, 3, 3), -np.inf), dict(kernel_size=2, stride=1, padding=1)),
        (np.array([[[-np.inf, 2.0, -np.inf, -np.inf, -np.inf]]]), dict(kernel_size=3,
                                                                       padding=1)),
    ]
    for x, kw in cases:
        fn = torch.nn.functional.max_pool2d if x.ndim == 4 else torch.nn.functional.max_pool1d
        ours = F.max_pool2d if x.ndim == 4 else F.max_pool1d
        xs = cr.tensor(x, requires_grad=True)
        y = ours(xs, **kw)
        g = np.arange(1.0, y.size + 1).reshape(y.shape)
        want_y, want_g = _torch_grad(lambda t, fn=fn, kw=kw: fn(t, **kw), x, g)
        np.testing.assert_array_equal(y.cpu().numpy(), want_y)
        y.backward(cr.tensor(g))
        assert_close(xs.grad, want_g)


def test_max_pool_return_indices_as_torch(rng):
    torch = pytest.importorskip("torch")
    x = _input(rng, 2)
    y, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(cr.tensor(x))
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert_close(y, ty)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.cpu().numpy(), tidx.cpu().numpy())
    _, idx1 = F.max_pool1d(x[:, :, 0], 2, return_indices=True)
    _, tidx1 = torch.nn.functional.max_pool1d(torch.tensor(x[:, :, 0]), 2, return_indices=True)
    np.testing.assert_array_equal(idx1.cpu().numpy(), tidx1.cpu().numpy())


def test_lenet_sized_max_pool_matches_torch(rng):
    """Large enough that the backward's flat positions and scatter cover many planes."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((16, 6, 28, 28)).astype(np.float32)
    compare_module(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), [x], np.float32, rng)


# ----- the rules of the ops -----
POOLS = {  # overlapping windows, and windows that tile the input (other code paths)
    "max": lambda x: F.max_pool2d(x, 2, 1, 1, 2, True),
    "max_tiles": lambda x: F.max_pool2d(x, 2, padding=1),
    "avg_tiles": lambda x: F.avg_pool2d(x, 2),
    "max1d": lambda x: F.max_pool1d(x, 3, 2, 1),
    "avg": lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
    "avg1d": lambda x: F.avg_pool1d(x, 2, 1),
    "adaptive": lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
}


def _distinct(rng, shape):
    """Values far apart, so finite differences never cross a tie of the max."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.1


def _sample_for(name, rng):
    return _distinct(rng, (2, 2, 7) if name.endswith("1d") else (1, 2, 5, 4))


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


@pytest.mark.parametrize("name", ["max", "avg", "adaptive"])
def test_pool_hessian_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    from reference import torch_hessian

    tf = {"max": lambda x: torch.nn.functional.max_pool2d(x, 2, 1, 1, 2, True),
          "avg": lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1, True, False),
          "adaptive": lambda x: torch.nn.functional.adaptive_avg_pool2d(x, (3, 2))}[name]
    f = POOLS[name]
    x = _sample_for(name, rng)
    w = rng.standard_normal(f(x).shape)
    got = cr.hessian(lambda x: (f(x) * f(x) * w).sum())(x)
    want = torch_hessian(lambda x: (tf(x) * tf(x) * torch.tensor(w)).sum(), [x])
    assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(POOLS))
def test_float32_stays_float32(name, rng):
    f = POOLS[name]
    x = cr.tensor(_sample_for(name, rng).astype(np.float32), requires_grad=True)
    y = f(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad._data.flags.c_contiguous
    _, d = cr.jvp(f, (x.cpu().numpy(),), (np.ones((2, *x.shape), np.float32),))
    assert d.dtype == np.float32


def test_functional_and_module_agree(rng):
    x = _input(rng, 2)
    close(nn.MaxPool2d((2, 3), stride=(1, 2))(x), F.max_pool2d(x, (2, 3), (1, 2)).cpu().numpy(),
          np.float64)
    close(nn.AvgPool1d(2)(x[:, :, 0]), F.avg_pool1d(x[:, :, 0], 2).cpu().numpy(), np.float64)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, " \
                                    "ceil_mode=False)"


@pytest.mark.parametrize(("fn", "args", "match"), [
    (F.max_pool2d, (np.zeros((1, 1, 4, 4)), 3, 1, 2),
     r"max_pool2d: padding \(2, 2\) should be at most half of kernel_size \(3, 3\)"),
    (F.avg_pool2d, (np.zeros((1, 1, 4, 4)), 2, 1, 2),
     r"avg_pool2d: padding \(2, 2\) should be at most half"),
    (F.max_pool2d, (np.zeros((1, 1, 2, 2)), 3),
     r"max_pool2d: input of shape \(1, 1, 2, 2\) is too small for kernel_size \(3, 3\)"),
    (F.max_pool1d, (np.zeros((1, 4)), 5),
     r"max_pool1d: input of shape \(1, 4\) is too small"),
    (F.max_pool2d, (np.zeros((4, 4)), 2),
     r"max_pool2d: expected a 3-d \(C, \*S\) or 4-d \(N, C, \*S\) input, got shape \(4, 4\)"),
    (F.avg_pool1d, (np.zeros((1, 1, 4)), 0), "avg_pool1d: kernel_size .* must be positive"),
    (F.adaptive_avg_pool2d, (np.zeros((1, 1, 4, 4)), (2, 2, 2)),
     "adaptive_avg_pool2d: output_size must be an int or a tuple of 2"),
    (F.max_pool2d, (np.zeros((1, 1, 4, 4)), (2, 2, 2)),
     r"max_pool2d: kernel_size must be an int or a tuple of 2 ints, got \(2, 2, 2\)"),
])
def test_errors_name_the_op_and_shapes(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


def test_integer_input_is_rejected():
    with pytest.raises(TypeError, match="max_pool2d: expected a floating-point input"):
        F.max_pool2d(np.zeros((1, 1, 4, 4), np.int64), 2)


def test_pool_geometry_output_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, k, s, p, d, c in itertools.product((5, 6, 7), (2, 3), (1, 2, 3), (0, 1), (1, 2),
                                              (False, True)):
        want = torch.nn.functional.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, c).shape[-1]
        geom = P.pool_geometry("p", (1, 1, n), 1, k, s, p, d, c)
        assert geom.out_size == (want,), (n, k, s, p, d, c)


def test_results_are_fresh_arrays(rng):
    """Work buffers are reused between calls; no result may alias one."""
    x = cr.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2, padding=1).sum().backward()
    keep = x.grad.cpu().numpy().copy()
    z = cr.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(z, 2, padding=1).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), keep)


@pytest.mark.parametrize("size", [(0, 2), 0, (3, None)])
def test_adaptive_avg_pool_empty_output_as_torch(size, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    got = F.adaptive_avg_pool2d(cr.tensor(x), size)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), size)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="must not be negative"):
        F.adaptive_avg_pool2d(cr.tensor(x), (-1, 2))
