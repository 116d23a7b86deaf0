"""Linear, Flatten and Embedding against PyTorch; Linear's rule: layout, batching, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, close, compare_module, port


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(7,), (5, 7), (2, 3, 7)], ids=["1d", "2d", "3d"])
def test_linear_matches_torch(dtype, bias, shape, rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Linear(7, 4, bias=bias)
    m = port(nn.Linear(7, 4, bias=bias), tm, dtype)
    compare_module(m, tm, [rng.standard_normal(shape)], dtype, rng)


def test_linear_parameters_and_state_dict_as_torch():
    torch = pytest.importorskip("torch")
    m, tm = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == tuple(tm.weight.shape) == (2, 3)
    assert m.bias.shape == (2,)
    assert m.weight.dtype == np.float32
    assert list(nn.Linear(3, 2, bias=False).state_dict()) == ["weight"]
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64


def test_linear_default_init_bounds():
    cr.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (m.weight.cpu().numpy(), m.bias.cpu().numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    # uniform on [-b, b]: variance b^2 / 3
    assert abs(m.weight.cpu().numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3
    cr.manual_seed(0)
    assert np.array_equal(nn.Linear(400, 300).weight.cpu().numpy(), m.weight.cpu().numpy())


def test_linear_weight_grad_after_backward_is_contiguous(rng):
    m = nn.Linear(5, 3)
    m(cr.tensor(rng.standard_normal((4, 5)).astype(np.float32))).sum().backward()
    assert m.weight.grad._data.flags.c_contiguous
    assert m.weight.grad.shape == (3, 5)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_linear_jacobian_wrt_weight(mode, rng):
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((2, 4))
    b = rng.standard_normal(2)
    jac = cr.jacobian(lambda w: cr.nn.functional.linear(x, w, b), mode=mode)(w).cpu().numpy()
    want = np.einsum("nk,oi->noik", x, np.eye(2))
    np.testing.assert_allclose(jac, want, atol=1e-12)


def test_linear_shape_and_dtype_errors():
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\)"):
        m(cr.zeros(4, 5))
    with pytest.raises(TypeError, match="float"):
        m(cr.zeros(4, 3, dtype=np.float64))


def test_flatten(rng):
    x = cr.tensor(rng.standard_normal((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch(dtype, padding_idx, rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    m = port(nn.Embedding(6, 3, padding_idx=padding_idx), tm, dtype)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    compare_module(m, tm, [idx], dtype, rng, grad_inputs=())
    if padding_idx is not None:
        assert np.all(m.weight.grad.cpu().numpy()[padding_idx] == 0)


def test_embedding_init_and_keys():
    torch = pytest.importorskip("torch")
    cr.manual_seed(1)
    m = nn.Embedding(1000, 20, padding_idx=0)
    assert list(m.state_dict()) == list(torch.nn.Embedding(3, 2).state_dict()) == ["weight"]
    w = m.weight.cpu().numpy()
    assert np.all(w[0] == 0)
    assert abs(w[1:].mean()) < 0.02
    assert abs(w[1:].std() - 1) < 0.02


def test_embedding_max_norm_renormalizes_rows_as_torch(rng):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Embedding(5, 4, max_norm=1.0).double()
    m = port(nn.Embedding(5, 4, max_norm=1.0), tm, np.float64)
    idx = np.array([0, 3, 3])
    close(m(idx), tm(torch.tensor(idx)), np.float64)
    close(m.weight, tm.weight, np.float64)


def test_embedding_rejects_bad_indices():
    m = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        m(np.array([4]))
    with pytest.raises(IndexError, match="out of range"):
        m(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        m(np.array([1.0]))


def test_embedding_from_pretrained_is_frozen():
    w = np.arange(6.0).reshape(3, 2)
    m = nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(np.array([2])).cpu().numpy(), [[4.0, 5.0]])
