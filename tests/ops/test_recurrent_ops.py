"""The fused recurrences of chainrule.ops.recurrent at the rule level: finite differences in both
modes, second order, batched rules equal separate ones, the fused path equals the composite one,
gradient layout and dtype, shape errors, and the adjoint identity on drawn shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autodiff.function import Context
from chainrule.ops.recurrent import GRUScan, LSTMScan, RNNScan, gru_scan, lstm_scan, rnn_scan

KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _inputs(kind, rng, t=3, b=2, i=2, h=3, dtype=np.float64):
    """x, W_ih, W_hh, b_ih, b_hh, h0 (, c0): the op's inputs in its argument order."""
    gh = GATES[kind] * h
    arrs = [rng.standard_normal((t, b, i)), 0.6 * rng.standard_normal((gh, i)),
            0.6 * rng.standard_normal((gh, h)), 0.5 * rng.standard_normal(gh),
            0.5 * rng.standard_normal(gh), rng.standard_normal((b, h))]
    if kind == "lstm":
        arrs.append(rng.standard_normal((b, h)))
    return [a.astype(dtype) for a in arrs]


def _fn(kind, reverse=False):
    """The op as a function of its inputs, in their argument order."""
    def f(x, w_ih, w_hh, b_ih, b_hh, h0, c0=None):
        if kind == "lstm":
            return lstm_scan(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
        if kind == "gru":
            return gru_scan(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
        return rnn_scan(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=kind[4:], reverse=reverse)

    return f


def _op(kind):
    return {"lstm": LSTMScan, "gru": GRUScan}.get(kind, RNNScan)


def _params(kind, reverse):
    return ((kind[4:], reverse) if kind.startswith("rnn") else (reverse,))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_both_modes(kind, reverse, rng):
    assert cr.gradcheck(_fn(kind, reverse), _inputs(kind, rng))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_second_order(kind, reverse, rng):
    """grad of grad, reverse-over-reverse and forward-over-reverse, against finite differences."""
    arrs = _inputs(kind, rng, t=2, b=1, i=1, h=2)
    f = _fn(kind, reverse)

    def loss(x, w_hh, h0):
        full = list(arrs)
        full[0], full[2], full[5] = x, w_hh, h0
        out = f(*full)
        return (out * out * out).sum() + out.sum()

    def g(x, w_hh, h0):
        return cr.concatenate([v.reshape(-1) for v in cr.grad(loss, argnums=(0, 1, 2))(
            x, w_hh, h0)])

    assert cr.gradcheck(g, [arrs[0], arrs[2], arrs[5]], atol=1e-5)


def test_hessian_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _inputs("lstm", rng, t=3, b=2, i=2, h=2)

    def loss(w):
        return (lstm_scan(x, h0, c0, w_ih, w, b_ih, b_hh) ** 2).sum()

    def tloss(w):
        h, c = torch.tensor(h0), torch.tensor(c0)
        total = 0
        for t in range(3):
            h, c = torch._VF.lstm_cell(torch.tensor(x[t]), (h, c), torch.tensor(w_ih), w,
                                       torch.tensor(b_ih), torch.tensor(b_hh))
            total = total + (h * h).sum()
        return total + (c * c).sum()

    got = cr.hessian(loss)(w_hh).cpu().numpy()
    want = torch.autograd.functional.hessian(tloss, torch.tensor(w_hh)).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", KINDS)
def test_reverse_over_forward(kind, rng):
    """The reverse-mode Jacobian of a jvp (rules run on Tensors while recording)."""
    arrs = _inputs(kind, rng, t=2, b=1, i=2, h=2)
    f = _fn(kind)
    u = rng.standard_normal(arrs[2].shape)

    def directional(x):
        full = list(arrs)
        full[0] = x
        return cr.jvp(lambda w: f(*full[:2], w, *full[3:]), (arrs[2],), (u,))[1]

    jac_rev = cr.jacobian(directional, mode="reverse")(arrs[0]).cpu().numpy()
    jac_fwd = cr.jacobian(directional, mode="forward")(arrs[0]).cpu().numpy()
    np.testing.assert_allclose(jac_rev, jac_fwd, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_batched_rules_equal_separate(kind, reverse, rng):
    arrs = _inputs(kind, rng)
    op = _op(kind)
    ctx = Context()
    out = op.forward(ctx, *arrs, *_params(kind, reverse))
    ctx.args = tuple(cr.tensor(a, requires_grad=True) for a in arrs)
    gk = rng.standard_normal((2, 3, *out.shape))
    ctx.batch = 2
    batched = op.vjp(ctx, gk)
    ctx.batch = 0
    for j in range(2):
        for k in range(3):
            for got, want in zip(batched, op.vjp(ctx, gk[j, k]), strict=True):
                assert got.shape[:2] == (2, 3)
                np.testing.assert_allclose(got[j, k], want, rtol=1e-12, atol=1e-13)
    tangents = [rng.standard_normal((4, *a.shape)) for a in arrs]
    ctx.batch = 1
    dk = op.jvp(ctx, *tangents)
    ctx.batch = 0
    for j in range(4):
        np.testing.assert_allclose(dk[j], op.jvp(ctx, *(d[j] for d in tangents)), rtol=1e-12,
                                   atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_rules_equal_composite(kind, rng):
    """The first-order NumPy rules agree with the differentiable (composite) path."""
    arrs = _inputs(kind, rng, t=4)
    f = _fn(kind, reverse=True)
    g = rng.standard_normal(f(*arrs).shape)
    ts = [cr.tensor(a, requires_grad=True) for a in arrs]
    (f(*ts) * g).sum().backward()
    fused = [t.grad.cpu().numpy() for t in ts]
    ts = [cr.tensor(a, requires_grad=True) for a in arrs]
    (f(*ts) * g).sum().backward(create_graph=True)  # rules on Tensors: the composite
    for a, t in zip(fused, ts, strict=True):
        np.testing.assert_allclose(a, t.grad.cpu().numpy(), rtol=1e-11, atol=1e-13)
    op = _op(kind)
    ctx = Context()
    out = op.forward(ctx, *arrs, *_params(kind, True))
    np.testing.assert_allclose(out, op.composite(ctx, *(cr.tensor(a) for a in arrs)).cpu().numpy(),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_keep_layout_and_float32(kind, rng):
    arrs = _inputs(kind, rng, t=6, b=4, i=3, h=5, dtype=np.float32)
    ts = [cr.tensor(a, requires_grad=True) for a in arrs]
    out = _fn(kind)(*ts)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    for t in ts:
        assert t.grad.dtype == np.float32
        assert t.grad._data.flags.c_contiguous
    op = _op(kind)
    ctx = Context()
    op.forward(ctx, *arrs, *_params(kind, False))
    ctx.batch = 0
    d = op.jvp(ctx, *(a * 0.5 for a in arrs))
    assert d.dtype == np.float32


@pytest.mark.parametrize("kind", KINDS)
def test_cotangent_of_unused_parts_is_zero(kind, rng):
    """Only the last step's state used: the gradients equal those through the composite."""
    arrs = _inputs(kind, rng, t=5)
    f = _fn(kind)
    x = cr.tensor(arrs[0], requires_grad=True)
    (f(x, *arrs[1:])[4] ** 2).sum().backward()
    want = cr.grad(lambda xx: (_op(kind).composite(_Ctx(kind), xx, *map(cr.tensor, arrs[1:]))[4]
                               ** 2).sum())(arrs[0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), want.cpu().numpy(), rtol=1e-11, atol=1e-13)


class _Ctx:
    def __init__(self, kind):
        self.reverse = False
        self.nonlinearity = kind[4:]


def test_shape_errors_name_the_shapes(rng):
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _inputs("lstm", rng)
    with pytest.raises(ValueError, match=r"lstm: input of shape \(3, 2, 5\) does not match "
                                         r"weight_ih of shape \(12, 2\)"):
        lstm_scan(np.zeros((3, 2, 5)), h0, c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"lstm: initial state of shape \(4, 3\)"):
        lstm_scan(x, np.zeros((4, 3)), c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"gru: weight_hh of shape \(12, 3\)"):
        gru_scan(x, h0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"rnn: bias_ih of shape \(4,\)"):
        rnn_scan(x, h0, w_ih[:3], w_hh[:3], np.zeros(4), b_hh[:3])
    with pytest.raises(ValueError, match=r"rnn: input of shape \(2, 2\) is not"):
        rnn_scan(x[0], h0, w_ih[:3], w_hh[:3])
    with pytest.raises(TypeError, match="float"):
        lstm_scan(x.astype(np.float32), h0, c0, w_ih, w_hh, b_ih, b_hh)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_adjoint_identity(data):
    """<u, vjp(v)> = <jvp(u), v> for every input, on drawn sizes, kinds and directions."""
    kind = data.draw(st.sampled_from(KINDS))
    reverse = data.draw(st.booleans())
    sizes = {k: data.draw(st.integers(1, 3)) for k in ("t", "b", "i", "h")}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    arrs = _inputs(kind, rng, **sizes)
    f = _fn(kind, reverse)
    out, back = cr.vjp(f, *arrs)
    v = rng.standard_normal(out.shape)
    us = [rng.standard_normal(a.shape) for a in arrs]
    _, du = cr.jvp(f, arrs, us)
    lhs = sum(float((u * g.cpu().numpy()).sum()) for u, g in zip(us, back(v), strict=True))
    assert np.isclose(lhs, float((du.cpu().numpy() * v).sum()), rtol=1e-10, atol=1e-12)


def test_buffer_pool_reuses_only_unreferenced_arrays():
    from chainrule.ops.recurrent import _Pool

    pool = _Pool()
    a = pool.empty((100, 10), np.float32)
    b = pool.empty((100, 10), np.float32)
    assert a is not b
    view = a[3:]  # a view keeps its base in use
    base_id = id(a)
    del a
    c = pool.empty((100, 10), np.float32)
    assert id(c) != base_id
    assert c is not b
    del view, c
    assert id(pool.empty((100, 10), np.float32)) == base_id  # free again: reused
    big = pool.empty((pool.max_bytes // 2,), np.uint8)  # too large to keep
    assert all(big is not x for arrays in pool.arrays.values() for x in arrays)


def test_outputs_of_successive_calls_stay_intact(rng):
    arrs = _inputs("lstm", rng, t=4)
    f = _fn("lstm")
    first = f(*arrs)
    kept = first.cpu().numpy().copy()
    for _ in range(3):
        arrs[0] = rng.standard_normal(arrs[0].shape)
        (f(*[cr.tensor(a, requires_grad=True) for a in arrs]) ** 2).sum().backward()
    np.testing.assert_array_equal(first.cpu().numpy(), kept)
