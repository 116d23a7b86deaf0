"""The fused ops of chainrule.ops.nn at the rule level: erf's accuracy, Linear's gradient
layout and batch axes, and properties (adjoint identity, batched = separate) on drawn shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autodiff.function import Context
from chainrule.ops import nn as ops_nn
from chainrule.ops.nn import Linear, erf_array


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-300, 1.0, -1.0, 8.0, 30.0]])
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf_array(x), want, rtol=1e-15, atol=3e-16)
    np.testing.assert_array_equal(erf_array(np.array([np.inf, -np.inf, 50.0])), [1, -1, 1])
    assert np.isnan(erf_array(np.array([np.nan]))).all()
    x32 = x.astype(np.float32)
    assert erf_array(x32).dtype == np.float32
    np.testing.assert_allclose(erf_array(x32), want, atol=3e-7)


def test_erf_gradient():
    assert cr.gradcheck(ops_nn.erf, [np.linspace(-3, 3, 7)])


def _linear_ctx(x, w, b):
    ctx = Context()
    out = Linear.forward(ctx, x, w, b)
    ctx.args = tuple(cr.tensor(a, requires_grad=True) for a in (x, w, b))
    return ctx, out


def test_linear_weight_gradient_is_contiguous_in_weight_layout(rng):
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    ctx, out = _linear_ctx(x, w, b)
    ctx.batch = 0
    g = rng.standard_normal(out.shape)
    gx, gw, gb = Linear.vjp(ctx, g)
    assert gw.shape == (3, 5)
    assert gw.flags.c_contiguous
    assert gw.flags.owndata
    np.testing.assert_allclose(gw, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(gx, g @ w, rtol=1e-12)
    np.testing.assert_allclose(gb, g.sum(0), rtol=1e-12)


@pytest.mark.parametrize("lead", [(), (6,), (2, 3)], ids=["1d", "2d", "3d"])
def test_linear_batched_cotangent_keeps_its_batch_axis(lead, rng):
    x, w, b = rng.standard_normal((*lead, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    ctx, out = _linear_ctx(x, w, b)
    gk = rng.standard_normal((4, *out.shape))
    ctx.batch = 1
    gx, gw, gb = Linear.vjp(ctx, gk)
    assert gx.shape == (4, *x.shape)
    assert gw.shape == (4, 3, 5)
    assert gb.shape == (4, 3)
    ctx.batch = 0
    for k in range(4):
        for got, want in zip((gx[k], gw[k], gb[k]), Linear.vjp(ctx, gk[k]), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def _shapes(draw, n_lead):
    return tuple(draw(st.integers(1, 3)) for _ in range(n_lead))


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_linear_adjoint_identity(data):
    lead = _shapes(data.draw, data.draw(st.integers(0, 2)))
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    args = [rng.standard_normal((*lead, n_in)), rng.standard_normal((n_out, n_in)),
            rng.standard_normal(n_out)]
    tangents = [rng.standard_normal(a.shape) for a in args]
    out, vjp_fn = cr.vjp(ops_nn.linear, *args)
    g = rng.standard_normal(out.shape)
    _, d = cr.jvp(ops_nn.linear, args, tangents)
    lhs = np.sum(g * d.cpu().numpy())
    rhs = sum(np.sum(c.cpu().numpy() * t) for c, t in zip(vjp_fn(g), tangents, strict=True))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_cross_entropy_batched_equals_separate(data):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4)),
             *_shapes(data.draw, data.draw(st.integers(0, 2))))
    scale = data.draw(st.sampled_from([None, 1.0, 0.25]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x, q = rng.standard_normal(shape), rng.random(shape)

    def f(x, q):
        return ops_nn.cross_entropy_q(x, q, 1 - len(shape), scale)

    out, vjp_fn = cr.vjp(f, x, q)
    gs = rng.standard_normal((3, *out.shape))
    batched = vjp_fn(gs)
    tangents = [rng.standard_normal((3, *shape)) for _ in range(2)]
    _, dk = cr.jvp(f, [x, q], tangents)
    for k in range(3):
        for got, want in zip(batched, vjp_fn(gs[k]), strict=True):
            np.testing.assert_allclose(got.cpu().numpy()[k], want.cpu().numpy(), rtol=1e-12,
                                       atol=1e-14)
        _, d = cr.jvp(f, [x, q], [t[k] for t in tangents])
        np.testing.assert_allclose(dk.cpu().numpy()[k], d.cpu().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("m", "n", "k"), [(8, 784, 256), (32, 512, 128), (1, 64, 512),
                                           (7, 33, 65), (64, 200, 300), (32, 16, 4096)])
def test_matmul_t_is_g_times_b_transposed(m, n, k, rng):
    """g @ b.T whichever product matmul_t picks: the same values, C-contiguous, into out."""
    from chainrule.ops.rules import matmul_t

    for dtype in (np.float32, np.float64):
        g = rng.standard_normal((m, n)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        want = g @ b.T
        got = matmul_t(g, b)
        assert got.flags.c_contiguous
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
        out = np.empty((m, k), dtype)
        assert matmul_t(g, b, out=out) is out
        np.testing.assert_array_equal(out, got)
