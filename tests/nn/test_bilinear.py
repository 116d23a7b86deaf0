"""nn/bilinear.py: Bilinear and F.bilinear against PyTorch (outputs, input, weight and bias
gradients, float32 and float64, leading axes), PyTorch's init and state dict, gradcheck to second
order, forward mode, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module, port


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()], ids=str)
def test_bilinear_matches_torch(lead, bias, dtype, rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Bilinear(4, 3, 6, bias=bias)
    m = port(nn.Bilinear(4, 3, 6, bias=bias), tm, dtype)
    x1, x2 = rng.standard_normal((*lead, 4)), rng.standard_normal((*lead, 3))
    compare_module(m, tm, [x1, x2], dtype, rng, grad_inputs=(0, 1))


def test_bilinear_parameters_state_dict_and_repr_as_torch():
    torch = pytest.importorskip("torch")
    for bias in (True, False):
        m, tm = nn.Bilinear(2, 3, 4, bias=bias), torch.nn.Bilinear(2, 3, 4, bias=bias)
        assert list(m.state_dict()) == list(tm.state_dict())
        for k, v in m.state_dict().items():
            assert v.shape == tuple(tm.state_dict()[k].shape), k
            assert v.dtype == np.float32
        assert repr(m) == repr(tm)
    assert nn.Bilinear(2, 3, 4, dtype=np.float64).weight.dtype == np.float64


def test_bilinear_default_init_bounds():
    cr.manual_seed(0)
    m = nn.Bilinear(100, 7, 300)  # the bound is 1/sqrt(in1_features), for bias too
    bound = 1 / math.sqrt(100)
    for p in (m.weight.cpu().numpy(), m.bias.cpu().numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    assert abs(m.weight.cpu().numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3
    cr.manual_seed(0)
    assert np.array_equal(nn.Bilinear(100, 7, 300).weight.cpu().numpy(), m.weight.cpu().numpy())


def test_functional_bilinear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))
    w, b = rng.standard_normal((6, 4, 5)), rng.standard_normal(6)
    close(F.bilinear(x1, x2, w, b), torch.nn.functional.bilinear(
        *(torch.tensor(a) for a in (x1, x2, w, b))), np.float64, "with bias")
    close(F.bilinear(x1, x2, w), torch.nn.functional.bilinear(
        *(torch.tensor(a) for a in (x1, x2, w))), np.float64, "without bias")


def test_bilinear_gradcheck_second_order_and_forward_mode(rng):
    x1, x2 = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    w, b = rng.standard_normal((5, 4, 2)), rng.standard_normal(5)
    assert cr.gradcheck(F.bilinear, [x1, x2, w, b])
    v = rng.standard_normal((3, 5))
    for i in (0, 1, 2):  # each gradient, as a function of every input
        assert cr.gradcheck(cr.grad(lambda *a: (F.bilinear(*a) ** 2 * v).sum(), argnums=i),
                            [x1, x2, w, b])
    us = [rng.standard_normal(a.shape) for a in (x1, x2, w, b)]
    assert cr.gradcheck(lambda *a: cr.jvp(F.bilinear, a, us)[1], [x1, x2, w, b])


def test_bilinear_float32_stays_float32(rng):
    m = nn.Bilinear(4, 3, 2)
    x1 = cr.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    y = m(x1, rng.standard_normal((5, 3)).astype(np.float32))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x1.grad.dtype == np.float32
    assert m.weight.grad.dtype == np.float32


@pytest.mark.parametrize(("args", "match"), [
    (((2, 3), (3, 4)), r"bilinear\(\): input batch dimensions do not match at dim 0: got 2 "
                       r"and 3"),
    (((2, 4), (2, 4)), r"bilinear\(\): input1 size does not match weight size: got 4 but "
                       r"expected 3"),
    (((2, 3), (2, 5)), r"bilinear\(\): input2 size does not match weight size: got 5 but "
                       r"expected 4"),
    (((2, 6, 3), (12, 4)), r"bilinear\(\): input dimensions do not match: got 3 and 2"),
])
def test_bilinear_errors_name_the_op_and_shapes(args, match, rng):
    m = nn.Bilinear(3, 4, 5)
    with pytest.raises(ValueError, match=match):
        m(*(rng.standard_normal(s).astype(np.float32) for s in args))
    with pytest.raises(ValueError, match=r"bilinear\(\): bias size does not match weight size: "
                                         r"got \(6,\) but expected \(5,\)"):
        F.bilinear(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((5, 3, 4)), np.zeros(6))
    with pytest.raises(ValueError, match=r"bilinear\(\): weight must be 3-d"):
        F.bilinear(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 4)))
