"""The convolution ops at the rule level: geometry and values against PyTorch over the option
grid (1-d, 2-d, 3-d), both AD modes and second order against finite differences, the three
bilinear ops' adjoint identities, batched = separate, float32 kept, layout, and errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import assert_close, torch_hessian, vdot

import chainrule as cr
from chainrule.ops import conv as C

# (shape of x without N and C, kernel) per number of spatial axes
SIZES = {1: ((9,), (3,)), 2: ((7, 6), (3, 2)), 3: ((5, 4, 5), (2, 3, 2))}
GRID = [(nd, s, p, d, g) for nd, s, p, d, g in itertools.product(
    (1, 2), (1, 2, 3), (0, 1, 2, "same", "valid"), (1, 2), (1, 2))
    if not (p == "same" and s != 1)] + [
    (3, 1, "same", 1, 1), (3, 2, 1, (1, 2, 1), 2), (3, (1, 2, 3), (1, 0, 2), 1, 1)]


def _torch_conv(nd):
    import torch

    return (torch.nn.functional.conv1d, torch.nn.functional.conv2d,
            torch.nn.functional.conv3d)[nd - 1]


def _sample(rng, nd, groups, n=2, c=4, o=6, dtype=np.float64):
    size, k = SIZES[nd]
    x = rng.standard_normal((n, c, *size)).astype(dtype)
    w = rng.standard_normal((o, c // groups, *k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    return x, w, b


def _torch_value_and_grads(nd, x, w, b, g, **kw):
    import torch

    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    with warnings.catch_warnings():  # 'same' with an even kernel: torch pads a copy and says so
        warnings.simplefilter("ignore", UserWarning)
        y = _torch_conv(nd)(*ts, **kw)
    y.backward(torch.tensor(g))
    return y.detach().cpu().numpy(), [t.grad.cpu().numpy() for t in ts]


@pytest.mark.parametrize(("nd", "stride", "padding", "dilation", "groups"), GRID)
def test_conv_matches_torch(nd, stride, padding, dilation, groups, rng):
    pytest.importorskip("torch")
    x, w, b = _sample(rng, nd, groups)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv(*xs, **kw)
    g = rng.standard_normal(y.shape)
    want, want_grads = _torch_value_and_grads(nd, x, w, b, g, **kw)
    assert_close(y, want, rtol=1e-10, atol=1e-12)
    y.backward(cr.tensor(g))
    for t, want_g, name in zip(xs, want_grads, ("x", "weight", "bias"), strict=True):
        assert_close(t.grad, want_g, rtol=1e-10, atol=1e-12, what=name)
        assert t.grad._data.flags.c_contiguous, name


@pytest.mark.parametrize(("shape", "k", "stride", "padding", "dilation"), [
    ((5, 6), (1, 1), (2, 3), 2, 1),      # padding past a 1x1 kernel: the input gradient crops
    ((7, 6), (2, 2), (3, 3), (3, 1), 1),  # stride larger than the kernel
    ((4,), (1,), 1, 3, 1),
    ((3, 9), (3, 4), 1, "same", (1, 2)),
    ((2, 2), (2, 2), 5, 0, 1),           # one output position
    ((6,), (2,), 3, 2, 2),
])
def test_conv_edge_geometries_match_torch(shape, k, stride, padding, dilation, rng):
    pytest.importorskip("torch")
    nd = len(shape)
    x = rng.standard_normal((2, 3, *shape))
    w = rng.standard_normal((4, 3, *k))
    b = rng.standard_normal(4)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv(*xs, **kw)
    g = rng.standard_normal(y.shape)
    want, want_grads = _torch_value_and_grads(nd, x, w, b, g, **kw)
    assert_close(y, want, rtol=1e-10, atol=1e-12)
    y.backward(cr.tensor(g))
    for t, want_g in zip(xs, want_grads, strict=True):
        assert_close(t.grad, want_g, rtol=1e-10, atol=1e-12)


def _small(rng, nd=2, groups=2):
    x = rng.standard_normal((2, 4, *((5, 4) if nd == 2 else (7,))))
    w = rng.standard_normal((4, 4 // groups, *((2, 3) if nd == 2 else (3,))))
    return x, w, rng.standard_normal(4)


CASES = [dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
         dict(stride=1, padding="same", dilation=1, groups=1)]


@pytest.mark.parametrize("kw", CASES, ids=["strided", "same"])
def test_gradcheck_both_modes(kw, rng):
    x, w, b = _small(rng, groups=kw["groups"])
    assert cr.gradcheck(lambda x, w, b: C.conv(x, w, b, **kw), [x, w, b])


def test_gradcheck_1d(rng):
    x, w, b = _small(rng, nd=1)
    assert cr.gradcheck(lambda x, w, b: C.conv(x, w, b, 2, 2, 2, 2), [x, w, b])


def _geometry(x, w, **kw):
    return C.conv_geometry("conv2d", x.shape, w.shape, kw.get("stride", 1),
                           kw.get("padding", 0), kw.get("dilation", 1), kw.get("groups", 1))


@pytest.mark.parametrize("kw", CASES, ids=["strided", "same"])
def test_transposed_and_weight_grad_ops_gradcheck(kw, rng):
    """The two adjoint ops have rules of their own (each other and conv): check them directly."""
    x, w, _ = _small(rng, groups=kw["groups"])
    geom = _geometry(x, w, **kw)
    g = rng.standard_normal((2, 4, *geom.out_size))
    assert cr.gradcheck(lambda g, w: C.conv_input_grad(g, w, geom), [g, w])
    assert cr.gradcheck(lambda x, g: C.conv_weight_grad(x, g, geom), [x, g])


@pytest.mark.parametrize("kw", CASES, ids=["strided", "same"])
def test_second_order(kw, rng):
    x, w, b = _small(rng, groups=kw["groups"])
    x = x[:1, :, :4, :3]
    f = lambda x, w, b: C.conv(x, w, b, **kw)  # noqa: E731
    weights = rng.standard_normal(f(x, w, b).shape)

    def scalar(x, w, b):
        y = f(x, w, b)
        return (y * y * weights).sum()

    for i in range(3):
        assert cr.gradcheck(cr.grad(scalar, argnums=i), [x, w, b]), i
    us = [rng.standard_normal(a.shape) for a in (x, w, b)]
    assert cr.gradcheck(lambda *xs: cr.jvp(f, xs, us)[1], [x, w, b])


def test_third_order_through_the_adjoint_ops(rng):
    """grad of grad of grad: conv -> transposed conv -> conv -> ..., all recorded."""
    x = rng.standard_normal((1, 2, 4, 3))
    w = rng.standard_normal((2, 2, 2, 2))

    def scalar(x):
        y = C.conv(x, w, padding=1)
        return (y * y * y).sum()

    def gsum(x):
        g = cr.grad(scalar)(x)
        return (g * g).sum()

    assert cr.gradcheck(cr.grad(gsum), [x], atol=1e-4)


@pytest.mark.parametrize("argnum", [0, 1])
def test_hessian_matches_torch(argnum, rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 1, 2, 2))
    b = rng.standard_normal(2)
    kw = dict(stride=1, padding=1, dilation=(2, 1), groups=2)
    weights = rng.standard_normal(C.conv(x, w, b, **kw).shape)

    def scalar(x, w):
        y = C.conv(x, w, b, **kw)
        return (y * y * weights).sum()

    def tscalar(x, w):
        y = torch.nn.functional.conv2d(x, w, torch.tensor(b), **kw)
        return (y * y * torch.tensor(weights)).sum()

    args = [x, w]
    got = cr.hessian(lambda a: scalar(*args[:argnum], a, *args[argnum + 1:]))(args[argnum])
    want = torch_hessian(lambda a, o: tscalar(a, o) if argnum == 0 else tscalar(o, a),
                         [args[argnum], args[1 - argnum]])
    assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", CASES, ids=["strided", "same"])
def test_batched_equals_separate(kw, rng):
    x, w, b = _small(rng, groups=kw["groups"])
    f = lambda x, w, b: C.conv(x, w, b, **kw)  # noqa: E731
    k = 3
    out, vjp_fn = cr.vjp(f, x, w, b)
    vs = rng.standard_normal((k, *out.shape))
    batched = vjp_fn(vs)
    tangents = [rng.standard_normal((k, *a.shape)) for a in (x, w, b)]
    _, jb = cr.jvp(f, [x, w, b], tangents)
    for i in range(k):
        for got, want in zip(batched, vjp_fn(vs[i]), strict=True):
            assert_close(got.cpu().numpy()[i], want, rtol=1e-12, atol=1e-13)
        _, d = cr.jvp(f, [x, w, b], [t[i] for t in tangents])
        assert_close(jb.cpu().numpy()[i], d, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kw", CASES, ids=["strided", "same"])
def test_adjoint_ops_batched_equal_separate(kw, rng):
    """Batched tangents and cotangents of the transposed-conv and weight-gradient ops, whose
    batch axes are folded into channel axes group by group."""
    x, w, _ = _small(rng, groups=kw["groups"])
    geom = _geometry(x, w, **kw)
    g = rng.standard_normal((2, 4, *geom.out_size))
    k = 2
    for f, args in ((lambda g, w: C.conv_input_grad(g, w, geom), (g, w)),
                    (lambda x, g: C.conv_weight_grad(x, g, geom), (x, g))):
        out, vjp_fn = cr.vjp(f, *args)
        vs = rng.standard_normal((k, *out.shape))
        batched = vjp_fn(vs)
        tangents = [rng.standard_normal((k, *a.shape)) for a in args]
        _, jb = cr.jvp(f, list(args), tangents)
        for i in range(k):
            for got, want in zip(batched, vjp_fn(vs[i]), strict=True):
                assert_close(got.cpu().numpy()[i], want, rtol=1e-12, atol=1e-13)
            assert_close(jb.cpu().numpy()[i], cr.jvp(f, list(args), [t[i] for t in tangents])[1],
                         rtol=1e-12, atol=1e-13)


@settings(max_examples=20, deadline=None, database=None)
@given(st.data())
def test_adjoint_identities(data):
    """<conv(x, w), g> = <x, conv_input_grad(g, w)> = <w, conv_weight_grad(x, g)>."""
    nd = data.draw(st.sampled_from([1, 2]))
    groups = data.draw(st.sampled_from([1, 2]))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(nd))
    size = tuple(max(data.draw(st.integers(1, 7)), d * (a - 1) + 1 - 2 * p)
                 for a, d, p in zip(k, dilation, padding))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal((2, 2 * groups, *size))
    w = rng.standard_normal((2 * groups, 2, *k))
    geom = C.conv_geometry("conv", x.shape, w.shape, stride, padding, dilation, groups)
    y = C.conv_op(x, w, geom)
    g = rng.standard_normal(y.shape)
    lhs = vdot(y, g)
    assert np.isclose(lhs, vdot(x, C.conv_input_grad(g, w, geom)), rtol=1e-10, atol=1e-10)
    assert np.isclose(lhs, vdot(w, C.conv_weight_grad(x, g, geom)), rtol=1e-10, atol=1e-10)


def test_float32_stays_float32(rng):
    x, w, b = (a.astype(np.float32) for a in _small(rng, groups=1))
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv(*xs, padding=1)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert all(t.grad.dtype == np.float32 for t in xs)
    _, d = cr.jvp(lambda x, w: C.conv(x, w, padding=1), [x, w],
                  [rng.standard_normal((2, *a.shape)).astype(np.float32) for a in (x, w)])
    assert d.dtype == np.float32
    gg = cr.grad(lambda x: (cr.grad(lambda x: (C.conv(x, w) ** 2).sum())(x) ** 2).sum())(x)
    assert gg.dtype == np.float32


def test_float32_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = (a.astype(np.float32) for a in _sample(rng, 2, 2))
    y = C.conv(x, w, b, stride=2, padding=1, groups=2)
    want = torch.nn.functional.conv2d(*map(torch.tensor, (x, w, b)), stride=2, padding=1,
                                      groups=2)
    assert_close(y, want, rtol=1e-5, atol=1e-5)


def test_gradients_are_contiguous_in_parameter_layout(rng):
    x, w, b = _small(rng, groups=1)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    C.conv(*xs, stride=2, padding=1).sum().backward()
    for t in xs:
        assert t.grad._data.flags.c_contiguous
        assert t.grad.shape == t.shape


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 1, 1), (2, 1, 1), (3, 2, 2)])
def test_chunked_columns_give_the_same_result(stride, padding, dilation, rng, monkeypatch):
    """Columns are built a few samples (or positions) at a time; chunks must not matter."""
    x = rng.standard_normal((7, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 2))
    geom = C.conv_geometry("conv2d", x.shape, w.shape, stride, padding, dilation, 1)
    g = rng.standard_normal((7, 4, *geom.out_size))

    def run():
        return [C.conv_forward(x, w, geom), C.conv_input_grad_forward(g, w, geom),
                C.conv_weight_grad_forward(x, g, geom)]

    whole = run()
    for budget in (1, 3 * 3 * 2 * 8 * 30):  # one position at a time; a few rows at a time
        monkeypatch.setattr(C, "CHUNK_BYTES", budget)
        for a, b in zip(whole, run(), strict=True):
            assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("nd", "stride", "padding", "dilation", "groups", "budget"), [
    (2, 1, 1, 1, 1, None), (2, 2, 0, 2, 2, None), (1, 1, 1, 2, 4, None), (3, 2, 1, 1, 2, None),
    (2, 1, 1, 1, 2, 700), (2, 2, 1, 1, 1, 1)])
def test_weight_grad_folded_and_per_sample_products_agree(nd, stride, padding, dilation, groups,
                                                          budget, rng, monkeypatch):
    """The weight gradient's two formulations (folded samples from 128 column rows and 16
    channels per group, per-sample products below) give the same values, chunked or not, and
    match finite differences through the op."""
    c, o, n = 16 * groups, 16 * groups, 3
    size = (9, 8, 7)[:nd]
    x = rng.standard_normal((n, c, *size))
    w = rng.standard_normal((o, c // groups, *(3,) * nd))
    geom = C.conv_geometry(f"conv{nd}d", x.shape, w.shape, stride, padding, dilation, groups)
    g = rng.standard_normal((n, o, *geom.out_size))
    if budget is not None:
        monkeypatch.setattr(C, "CHUNK_BYTES", budget)
    monkeypatch.setattr(C, "FOLD_WGRAD_ROWS", 0)
    folded = C.conv_weight_grad_forward(x, g, geom)
    monkeypatch.setattr(C, "FOLD_WGRAD_ROWS", 10**9)
    per_sample = C.conv_weight_grad_forward(x, g, geom)
    assert folded.flags.c_contiguous
    assert folded.shape == w.shape
    assert_close(folded, per_sample, rtol=1e-12, atol=1e-12)
    # and against the definition: d/dw of <conv(x, w), g> is the weight gradient
    monkeypatch.setattr(C, "FOLD_WGRAD_ROWS", 0)
    e = np.zeros_like(w)
    e.flat[5] = 1e-6
    fd = (vdot(C.conv_forward(x, w + e, geom), g) - vdot(C.conv_forward(x, w - e, geom), g)) / 2e-6
    assert abs(fd - folded.flat[5]) < 1e-6 * max(1.0, abs(fd))


def test_results_are_fresh_arrays(rng):
    """Work buffers are reused between calls; no result may alias one."""
    x = rng.standard_normal((1, 1, 5, 5))
    w = rng.standard_normal((1, 1, 3, 3))
    y = C.conv2d(x, w, padding=1)
    keep = y.cpu().numpy().copy()
    C.conv2d(rng.standard_normal((1, 1, 5, 5)), w, padding=1)
    np.testing.assert_array_equal(y.cpu().numpy(), keep)


def test_unbatched_input(rng):
    x, w, b = _small(rng)
    y = C.conv2d(x[0], w, b, padding=1, groups=2)
    assert_close(y, C.conv2d(x, w, b, padding=1, groups=2).cpu().numpy()[0], rtol=1e-14)


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((np.zeros((1, 3, 5, 5)), np.zeros((2, 4, 3, 3))), {},
     r"conv2d: input of shape \(1, 3, 5, 5\) has 3 channels, but weight of shape "
     r"\(2, 4, 3, 3\) with groups=1 expects 4"),
    ((np.zeros((1, 4, 5, 5)), np.zeros((2, 1, 3, 3))), {"groups": 4},
     r"conv2d: weight of shape \(2, 1, 3, 3\) has 2 output channels, not divisible by "
     r"groups=4"),
    ((np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3))), {},
     r"conv2d: kernel of size \(3, 3\) .* larger than the padded input of size \(2, 2\) "
     r"\(input of shape \(1, 1, 2, 2\)"),
    ((np.zeros((1, 1, 4)), np.zeros((1, 1, 2))), {"dilation": 4},
     r"conv1d: kernel of size \(2,\) \(dilated to \(5,\)\) is larger"),
    ((np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))), {"stride": 2, "padding": "same"},
     "conv2d: padding='same' is not supported for strided convolutions"),
    ((np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))), {"padding": "full"},
     "conv2d: padding must be an int, a tuple, 'same' or 'valid'"),
    ((np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))), {"stride": (1, 2, 3)},
     r"conv2d: stride must be an int or a tuple of 2 ints, got \(1, 2, 3\)"),
    ((np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))), {"stride": 0},
     "conv2d: stride .* must be positive"),
    ((np.zeros((5, 5)), np.zeros((1, 1, 3, 3))), {},
     r"conv2d: expected an input of 4 dimensions \(N, C, ...\) for weight of shape "
     r"\(1, 1, 3, 3\), got input of shape \(5, 5\)"),
    ((np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), np.zeros(2)), {},
     r"conv2d: bias of shape \(2,\) does not match weight of shape \(1, 1, 3, 3\)"),
])
def test_errors_name_the_op_and_shapes(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.conv(*args, **kwargs)


def test_weight_of_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match=r"conv1d: weight must have 3 dimensions"):
        C.conv1d(np.zeros((1, 1, 5)), np.zeros((1, 1, 3, 3)))


def test_mixed_float_dtypes_raise():
    with pytest.raises(TypeError, match="float"):
        C.conv2d(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 3)))
