"""COO sparse tensors against torch.sparse: values, products and gradients."""

from __future__ import annotations

import numpy as np
import pytest
from reference import cpu_only

import chainrule as cr
import chainrule.torch as ctorch
from chainrule.sparse import SparseTensor

torch = pytest.importorskip("torch")

IDX = np.array([[0, 1, 1, 2, 0], [1, 0, 2, 2, 1]])  # (0, 1) twice: duplicates add up
VALS = np.array([1.5, -2.0, 0.5, 3.0, 0.25])


def _both():
    a = ctorch.sparse_coo_tensor(IDX, ctorch.tensor(VALS), (3, 3))
    b = torch.sparse_coo_tensor(torch.tensor(IDX), torch.tensor(VALS), (3, 3),
                                check_invariants=True)
    return a, b


def test_to_dense_and_coalesce():
    a, b = _both()
    np.testing.assert_allclose(a.to_dense().cpu().numpy(), b.to_dense().cpu().numpy())
    ac, bc = a.coalesce(), b.coalesce()
    np.testing.assert_array_equal(ac.indices().cpu().numpy(), bc.indices().cpu().numpy())
    np.testing.assert_allclose(ac.values().cpu().numpy(), bc.values().cpu().numpy())
    assert a.is_sparse
    assert a._nnz() == 5


@pytest.mark.parametrize("m", [None, 4])
def test_spmm_values_and_gradients_match_torch(m):
    rng = np.random.default_rng(0)
    d = rng.standard_normal((3,) if m is None else (3, m))
    a, b = _both()
    x = ctorch.tensor(d, requires_grad=True)
    xt = torch.tensor(d, requires_grad=True)
    y, yt = ctorch.spmm(a, x), torch.sparse.mm(b, xt.unsqueeze(-1) if m is None else xt)
    yt = yt.squeeze(-1) if m is None else yt
    np.testing.assert_allclose(y.cpu().numpy(), yt.detach().cpu().numpy())
    w = rng.standard_normal(y.shape)
    (y * ctorch.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy())


@cpu_only  # chainrule's sparse tensors live on the host (SparseTensor.is_cuda is False)
def test_products_in_both_orders_and_sum_with_dense():
    a, b = _both()
    d = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(ctorch.mm(a, ctorch.tensor(d)).cpu().numpy(),
                               torch.mm(b, torch.tensor(d)).cpu().numpy())
    np.testing.assert_allclose((ctorch.tensor(d.T) @ a).cpu().numpy(),
                               (torch.tensor(d.T) @ b).numpy())
    eye = ctorch.eye(3) + ctorch.sparse_coo_tensor(IDX, ctorch.ones(5), (3, 3), dtype=cr.int64)
    want = torch.eye(3) + torch.sparse_coo_tensor(torch.tensor(IDX), torch.ones(5), (3, 3),
                                                  dtype=torch.int64, check_invariants=True)
    np.testing.assert_allclose(eye.cpu().numpy(), want.cpu().numpy())
    assert eye.dtype == np.float32


@cpu_only  # a CUDA tensor's to_sparse() needs sparse tensors on the device, not there yet
def test_to_sparse_keeps_the_nonzeros_and_the_gradient_to_values():
    x = cr.tensor([[0.0, 2.0], [3.0, 0.0]], requires_grad=True)
    s = x.to_sparse()
    assert isinstance(s, SparseTensor)
    assert s._nnz() == 2
    (s @ cr.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[0.0, 10.0], [1.0, 0.0]])


def test_bad_sparse_inputs_are_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        ctorch.sparse_coo_tensor(np.array([[0, 5]]).T.T, ctorch.ones(2), (3,))
    a, _ = _both()
    with pytest.raises(ValueError, match="spmm"):
        ctorch.spmm(a, ctorch.ones(4, 2))


def test_legacy_tensor_constructor_and_size_keyword():
    t = ctorch.Tensor(2, 3)
    assert t.shape == (2, 3)
    assert t.dtype == np.float32
    assert isinstance(t, ctorch.Tensor)
    assert isinstance(ctorch.nn.Parameter(t), ctorch.Tensor)
    assert ctorch.Tensor([1, 2]).dtype == np.float32
    assert ctorch.Tensor(16).shape == (16,)
    assert ctorch.empty(size=(2, 3)).shape == (2, 3)
