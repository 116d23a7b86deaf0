"""ConvTranspose1d and ConvTranspose2d against PyTorch with ported weights (outputs and every
gradient over the stride/padding/output_padding/dilation/groups grid, float64 and float32);
output_size, unbatched input, gradcheck, init, parameter names, repr, device/dtype and errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from reference import needs_no_cuda

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.device import device as Device

from .torch_port import DTYPES, close, compare_module, port

# (stride, padding, output_padding, dilation, groups, bias), output_padding < stride or dilation
OPTIONS = [(s, p, op, d, g, (s + p + d + g) % 2 == 0) for s, p, op, d, g in itertools.product(
    (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2), (1, 2)) if op < s or op < d]
FLOAT32_OPTIONS = [(1, 0, 0, 1, 1, True), (2, 1, 1, 1, 2, False), (3, 2, 2, 2, 1, True),
                   (1, 1, 1, 2, 2, True)]
CASES = [(o, np.float64) for o in OPTIONS] + [(o, np.float32) for o in FLOAT32_OPTIONS]
LAYERS = {1: ("ConvTranspose1d", 3, (3, 4, 7)), 2: ("ConvTranspose2d", (3, 2), (3, 4, 5, 4))}


def _pair(nd, options, dtype, in_channels=4, out_channels=6):
    torch = pytest.importorskip("torch")
    name, k, _ = LAYERS[nd]
    s, p, op, d, g, b = options
    kw = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g, bias=b)
    tm = getattr(torch.nn, name)(in_channels, out_channels, k, **kw)
    return port(getattr(nn, name)(in_channels, out_channels, k, **kw), tm, dtype), tm


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize(("options", "dtype"), CASES, ids=str)
def test_matches_torch(nd, options, dtype, rng):
    m, tm = _pair(nd, options, dtype)
    compare_module(m, tm, [rng.standard_normal(LAYERS[nd][2])], dtype, rng)


@pytest.mark.parametrize("nd", [1, 2])
def test_unbatched_input_matches_torch(nd, rng):
    m, tm = _pair(nd, (2, 1, 1, 1, 2, True), np.float64)
    compare_module(m, tm, [rng.standard_normal(LAYERS[nd][2][1:])], np.float64, rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_decoder_sized_layer_matches_torch(dtype, rng):
    """A batch large enough that the kernels work in several chunks (a DCGAN-like upsampler);
    in float32 compared relative to each result's largest element."""
    torch = pytest.importorskip("torch")
    tm = torch.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
    m = port(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), tm, dtype)
    x = rng.standard_normal((16, 16, 14, 14)).astype(dtype)
    xs, txs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xs), tm(txs)
    assert y.shape == (16, 8, 28, 28)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for got, want in [(y, ty), (xs.grad, txs.grad), (m.weight.grad, tm.weight.grad),
                      (m.bias.grad, tm.bias.grad)]:
        want = want.detach().cpu().numpy()
        assert got.dtype == dtype
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=rtol,
                                   atol=rtol * np.abs(want).max())


@pytest.mark.parametrize(("nd", "output_size"), [
    (2, (9, 8)), (2, (10, 9)), (2, [2, 6, 10, 9]), (1, (11,)), (1, (6, 12)), (2, (6, 9, 8))])
def test_output_size_matches_torch(nd, output_size, rng):
    m, tm = _pair(nd, (3 if nd == 1 else 2, 1, 0, 1, 1, True), np.float64)
    x = rng.standard_normal((2, 4, 4) if nd == 1 else (2, 4, 5, 5))
    if len(output_size) == nd + 1:
        x = x[0]
    compare_module(m, tm, [x], np.float64, rng,
                   call=lambda mod, t: mod(t, output_size=output_size))
    assert m(cr.tensor(x), output_size=output_size).shape[-nd:] == tuple(output_size)[-nd:]


def test_bad_output_size_is_refused_as_torch():
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"conv_transpose2d: requested an output size of "
                                         r"\[8, 9\], but valid sizes range from \[9, 9\] to "
                                         r"\[10, 10\] \(for an input of \(5, 5\)\)"):
        m(cr.zeros(2, 4, 5, 5), output_size=(8, 9))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_size must have 2 elements"):
        m(cr.zeros(2, 4, 5, 5), output_size=(9,))


@pytest.mark.parametrize(("nd", "kw"), [
    (1, dict(stride=2, padding=1, output_padding=1, groups=2)),
    (2, dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2), groups=2)),
    (2, dict(stride=2, output_padding=(1, 0)))])
def test_functional_gradcheck(nd, kw, rng):
    """Both AD modes against central differences in float64, input, weight and bias."""
    x = rng.standard_normal((2, 4, 3) if nd == 1 else (2, 4, 3, 2))
    w = rng.standard_normal((4, 3, 2) if nd == 1 else (4, 3, 2, 2))
    b = rng.standard_normal(3 * kw.get("groups", 1))
    f = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    assert cr.gradcheck(lambda x, w, b: f(x, w, b, **kw), [x, w, b])


def test_functional_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w = rng.standard_normal((2, 4, 5, 3)), rng.standard_normal((4, 2, 3, 3))
    want = tf.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, 2, 1, 1, 2, 2)
    close(F.conv_transpose2d(x, w, None, 2, 1, 1, 2, 2), want, np.float64)
    x1, w1, b1 = rng.standard_normal((4, 6)), rng.standard_normal((4, 3, 2)), np.ones(3)
    want = tf.conv_transpose1d(*map(torch.tensor, (x1, w1, b1)), stride=3, dilation=2)
    close(F.conv_transpose1d(x1, w1, b1, stride=3, dilation=2), want, np.float64)


def test_transpose_is_the_adjoint_of_conv(rng):
    """<conv(u, w), v> = <u, conv_transpose(v, w)> with the same stride/padding/dilation."""
    kw = dict(stride=2, padding=1, dilation=2, groups=2)
    u, w = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    y = F.conv2d(u, w, **kw)
    v = rng.standard_normal(y.shape)
    z = F.conv_transpose2d(v, w, output_padding=(0, 1), **kw)
    assert z.shape == u.shape
    assert np.isclose(np.vdot(y.cpu().numpy(), v), np.vdot(u, z.cpu().numpy()), rtol=1e-12)


def test_parameters_and_state_dict_as_torch():
    torch = pytest.importorskip("torch")
    m = nn.ConvTranspose2d(4, 6, (3, 2), groups=2)
    tm = torch.nn.ConvTranspose2d(4, 6, (3, 2), groups=2)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == tuple(tm.weight.shape) == (4, 3, 3, 2)
    assert m.bias.shape == (6,)
    assert m.weight.dtype == np.float32
    assert list(nn.ConvTranspose1d(3, 2, 3, bias=False).state_dict()) == ["weight"]
    assert nn.ConvTranspose1d(3, 2, 3).weight.shape == (3, 2, 3)
    assert nn.ConvTranspose2d(3, 2, 3, dtype=np.float64).weight.dtype == np.float64
    for a in ("stride", "padding", "output_padding", "dilation", "kernel_size"):
        assert getattr(m, a) == getattr(tm, a), a


def test_default_init_bounds():
    cr.manual_seed(0)
    m = nn.ConvTranspose2d(64, 16, 3, groups=2)
    bound = 1 / math.sqrt(8 * 9)  # fan_in = weight.shape[1] (out_channels / groups) * 3 * 3
    for p in (m.weight.cpu().numpy(), m.bias.cpu().numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.9 * bound
    assert abs(m.weight.cpu().numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3
    cr.manual_seed(0)
    assert np.array_equal(nn.ConvTranspose2d(64, 16, 3, groups=2).weight.cpu().numpy(),
                          m.weight.cpu().numpy())


def test_repr_as_torch():
    torch = pytest.importorskip("torch")
    for args, kw in [((3, 8, 3), {}), ((3, 8, (3, 5)), dict(stride=2, padding=1, bias=False)),
                     ((4, 8, 3), dict(stride=2, output_padding=1, dilation=2, groups=4))]:
        assert repr(nn.ConvTranspose2d(*args, **kw)) == repr(
            torch.nn.ConvTranspose2d(*args, **kw))
    assert repr(nn.ConvTranspose1d(2, 3, 4, 2)) == repr(torch.nn.ConvTranspose1d(2, 3, 4, 2))


@pytest.mark.parametrize("layer", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_device_and_dtype_keywords(layer):
    torch = pytest.importorskip("torch")
    cls = getattr(nn, layer)
    for device in (None, "cpu", torch.device("cpu")):
        m = cls(2, 4, 3, device=device, dtype=np.float64)
        assert m.weight.dtype == m.bias.dtype == np.float64
    for device in (Device("cpu"), "cpu:0"):
        assert cls(2, 4, 3, device=device).weight.dtype == np.float32
    with pytest.raises(RuntimeError, match=rf"{layer}: device 'meta' is not available"):
        cls(2, 4, 3, device=torch.device("meta"))


@needs_no_cuda
@pytest.mark.parametrize("layer", ["Conv1d", "ConvTranspose2d"])
def test_cuda_device_unavailable(layer):
    with pytest.raises(RuntimeError, match=rf"{layer}: device 'cuda' is not available"):
        getattr(nn, layer)(2, 4, 3, device="cuda")


def test_weight_gradient_is_contiguous_float32(rng):
    m = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    m(cr.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))).sum().backward()
    assert m.weight.grad._data.flags.c_contiguous
    assert m.weight.grad.dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match=r"ConvTranspose2d: in_channels \(3\) and out_channels "
                                         r"\(4\) must be divisible by groups \(2\)"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode 'reflect' is not supported"):
        nn.ConvTranspose1d(3, 4, 3, padding_mode="reflect")
    m = nn.ConvTranspose2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input of shape \(2, 5, 8, 8\) has 5 "
                                         r"channels, but weight of shape \(3, 4, 3, 3\) expects 3"):
        m(cr.zeros(2, 5, 8, 8))
    with pytest.raises(ValueError, match=r"conv_transpose1d: expected an input of 3 dimensions"):
        nn.ConvTranspose1d(3, 4, 3)(cr.zeros(1, 1, 3, 8))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 2\) must be "
                                         r"smaller than either stride \(2, 2\) or dilation"):
        nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2)(cr.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"conv_transpose1d: input of shape \(1, 3, 1\) .* gives "
                                         r"an output of size \(-1,\)"):
        nn.ConvTranspose1d(3, 4, 3, padding=2)(cr.zeros(1, 3, 1))
    x, w = np.zeros((1, 4, 5)), np.zeros((4, 2, 3))
    with pytest.raises(ValueError, match=r"conv_transpose1d: bias of shape \(3,\) does not match "
                                         r"weight of shape \(4, 2, 3\) with groups=2"):
        F.conv_transpose1d(x, w, np.zeros(3), groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight must have 4 dimensions"):
        F.conv_transpose2d(x, w)
    with pytest.raises(ValueError, match=r"conv_transpose1d: weight of shape \(4, 2, 3\) has 4 "
                                         r"input channels, not divisible by groups=3"):
        F.conv_transpose1d(x, w, groups=3)
