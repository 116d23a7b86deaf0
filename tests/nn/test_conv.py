"""Conv1d and Conv2d against PyTorch with ported weights (outputs and every gradient, across the
option grid, float64 and float32); initialization, parameter names, repr and errors."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module, port

# (stride, padding, dilation, groups, bias); bias alternates so both appear with every option
OPTIONS = [(s, p, d, g, (s + d + g) % 2 == 1) for s, p, d, g in itertools.product(
    (1, 2), (0, 1, "same", "valid"), (1, 2), (1, 2)) if not (p == "same" and s != 1)]
FLOAT32_OPTIONS = [(1, 0, 1, 1, True), (2, 1, 1, 2, False), (1, "same", 2, 1, False),
                   (2, 1, 2, 2, True)]
CASES = ([(o, np.float64) for o in OPTIONS] + [(o, np.float32) for o in FLOAT32_OPTIONS])


def _pair(nd, torch_mod, cr_mod, options, dtype):
    s, p, d, g, b = options
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b)
    k = 3 if nd == 1 else (3, 2)
    tm = torch_mod(4, 6, k, **kw)
    return port(cr_mod(4, 6, k, **kw), tm, dtype), tm


@pytest.mark.parametrize(("options", "dtype"), CASES, ids=str)
def test_conv2d_matches_torch(options, dtype, rng):
    torch = pytest.importorskip("torch")
    m, tm = _pair(2, torch.nn.Conv2d, nn.Conv2d, options, dtype)
    with warnings.catch_warnings():  # torch warns that 'same' with an even kernel pads a copy
        warnings.simplefilter("ignore", UserWarning)
        compare_module(m, tm, [rng.standard_normal((3, 4, 7, 6))], dtype, rng)


@pytest.mark.parametrize(("options", "dtype"), CASES, ids=str)
def test_conv1d_matches_torch(options, dtype, rng):
    torch = pytest.importorskip("torch")
    m, tm = _pair(1, torch.nn.Conv1d, nn.Conv1d, options, dtype)
    compare_module(m, tm, [rng.standard_normal((3, 4, 9))], dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet_sized_layer_matches_torch(dtype, rng):
    """A batch large enough that the columns are built in several chunks; in float32 the
    gradients (sums of 3,200 products) are compared relative to their largest element."""
    torch = pytest.importorskip("torch")
    tm = torch.nn.Conv2d(6, 16, 5)
    m = port(nn.Conv2d(6, 16, 5), tm, dtype)
    x = rng.standard_normal((32, 6, 14, 14)).astype(dtype)
    xs, txs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xs), tm(txs)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    pairs = [(y, ty), (xs.grad, txs.grad), (m.weight.grad, tm.weight.grad),
             (m.bias.grad, tm.bias.grad)]
    for got, want in pairs:
        want = want.detach().cpu().numpy()
        assert got.dtype == dtype
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=rtol,
                                   atol=rtol * np.abs(want).max())


def test_unbatched_input_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Conv2d(3, 2, 3, padding=1)
    m = port(nn.Conv2d(3, 2, 3, padding=1), tm, np.float64)
    compare_module(m, tm, [rng.standard_normal((3, 5, 5))], np.float64, rng)


def test_parameters_and_state_dict_as_torch():
    torch = pytest.importorskip("torch")
    m, tm = nn.Conv2d(4, 6, (3, 2), groups=2), torch.nn.Conv2d(4, 6, (3, 2), groups=2)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == tuple(tm.weight.shape) == (6, 2, 3, 2)
    assert m.bias.shape == (6,)
    assert m.weight.dtype == np.float32
    assert list(nn.Conv1d(3, 2, 3, bias=False).state_dict()) == ["weight"]
    assert nn.Conv1d(3, 2, 3).weight.shape == (2, 3, 3)
    assert nn.Conv2d(3, 2, 3, dtype=np.float64).weight.dtype == np.float64


def test_default_init_bounds():
    cr.manual_seed(0)
    m = nn.Conv2d(16, 64, 3, groups=2)
    bound = 1 / math.sqrt(8 * 9)  # fan_in = in_channels / groups * kernel area
    for p in (m.weight.cpu().numpy(), m.bias.cpu().numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.9 * bound
    assert abs(m.weight.cpu().numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3  # U(-b, b)
    cr.manual_seed(0)
    assert np.array_equal(nn.Conv2d(16, 64, 3, groups=2).weight.cpu().numpy(),
                          m.weight.cpu().numpy())


def test_repr_as_torch():
    torch = pytest.importorskip("torch")
    for args, kw in [((3, 8, 3), {}), ((3, 8, (3, 5)), dict(stride=2, padding=1, bias=False)),
                     ((4, 8, 3), dict(padding="same", dilation=2, groups=4))]:
        assert repr(nn.Conv2d(*args, **kw)) == repr(torch.nn.Conv2d(*args, **kw))


def test_weight_gradient_is_contiguous(rng):
    m = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    m(cr.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))).sum().backward()
    assert m.weight.grad._data.flags.c_contiguous
    assert m.weight.grad.dtype == np.float32


def test_functional_forms(rng):
    x = rng.standard_normal((2, 4, 6))
    w = rng.standard_normal((2, 2, 3))
    m = nn.Conv1d(4, 2, 3, padding=1, groups=2, dtype=np.float64)
    with cr.no_grad():
        m.weight.copy_(cr.tensor(w))
        m.bias.zero_()
    close(F.conv1d(x, w, None, 1, 1, 1, 2), m(x).cpu().numpy(), np.float64)
    x2 = rng.standard_normal((2, 4, 5, 5))
    w2 = rng.standard_normal((3, 4, 2, 2))
    y = F.conv2d(x2, w2, padding="valid")
    assert y.shape == (2, 3, 4, 4)


def test_errors():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) and out_channels \(4\) must "
                                         r"be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode 'reflect' is not supported"):
        nn.Conv1d(3, 4, 3, padding_mode="reflect")
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(2, 5, 8, 8\) has 5 channels, "
                                         r"but weight of shape \(4, 3, 3, 3\)"):
        m(cr.zeros(2, 5, 8, 8))
    with pytest.raises(ValueError, match=r"conv2d: kernel of size \(3, 3\) .* padded input of "
                                         r"size \(2, 2\)"):
        m(cr.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"conv1d: expected an input of 3 dimensions"):
        nn.Conv1d(3, 4, 3)(cr.zeros(1, 1, 3, 8))
