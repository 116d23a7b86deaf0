"""chainrule.torch's functions vs real torch on the same inputs: values, structure, dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch as real

import chainrule.torch as ct

A = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 1.5, -2.0, 4.0], [-0.5, 2.5, 1.0, -3.0]], np.float32)
B = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [2.0, -2.0, 1.0], [0.5, 1.0, -1.0]], np.float32)
V = np.array([3.0, -1.0, 2.0], np.float32)
I = np.array([[2, 0, 1], [1, 2, 0]], np.int64)
M = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

# (id, fn(torch_module, to_tensor) -> result): run once on each namespace
CASES: list[tuple[str, Any]] = [
    ("max_dim", lambda t, T: t.max(T(A), 1)),
    ("max_dim_keepdim", lambda t, T: t.max(T(A), dim=0, keepdim=True)),
    ("max_all", lambda t, T: t.max(T(A))),
    ("max_binary", lambda t, T: t.max(T(A), T(A * -1))),
    ("min_dim", lambda t, T: t.min(T(A), -1)),
    ("sort", lambda t, T: t.sort(T(A), 1)),
    ("sort_desc", lambda t, T: t.sort(T(A), dim=0, descending=True)),
    ("topk", lambda t, T: t.topk(T(A), 2)),
    ("argmax", lambda t, T: t.argmax(T(A))),
    ("argmax_dim", lambda t, T: t.argmax(T(A), dim=1)),
    ("split_size", lambda t, T: t.split(T(M), 2, dim=2)),
    ("split_sizes", lambda t, T: t.split(T(M), [1, 3], dim=2)),
    ("chunk", lambda t, T: t.chunk(T(A), 2, 1)),
    ("transpose", lambda t, T: t.transpose(T(M), 0, 2)),
    ("permute", lambda t, T: t.permute(T(M), (2, 0, 1))),
    ("t", lambda t, T: t.t(T(A))),
    ("cat", lambda t, T: t.cat([T(A), T(A)], dim=1)),
    ("cat_default", lambda t, T: t.cat((T(A), T(A)))),
    ("stack", lambda t, T: t.stack([T(A), T(A)], 1)),
    ("sum_dim", lambda t, T: t.sum(T(M), 1)),
    ("sum_dims_keepdim", lambda t, T: t.sum(T(M), (0, 2), keepdim=True)),
    ("sum_int_dtype", lambda t, T: t.sum(T(I))),
    ("mean_dim", lambda t, T: t.mean(T(M), dim=-1)),
    ("std", lambda t, T: t.std(T(A))),
    ("std_dim", lambda t, T: t.std(T(A), 1)),
    ("std_biased", lambda t, T: t.std(T(A), 0, unbiased=False)),
    ("var_correction", lambda t, T: t.var(T(A), dim=1, correction=0)),
    ("flatten", lambda t, T: t.flatten(T(M))),
    ("flatten_start", lambda t, T: t.flatten(T(M), 1)),
    ("reshape", lambda t, T: t.reshape(T(M), (4, -1))),
    ("squeeze_noop", lambda t, T: t.squeeze(T(A[None]), 1)),
    ("squeeze_dim", lambda t, T: t.squeeze(T(A[None]), 0)),
    ("squeeze_all", lambda t, T: t.squeeze(T(A[None, :, None]))),
    ("unsqueeze", lambda t, T: t.unsqueeze(T(A), 1)),
    ("where", lambda t, T: t.where(T(A) > 0, T(A), T(A * 10))),
    ("where_scalar", lambda t, T: t.where(T(A) > 0, T(A), 0.0)),
    ("where_one_arg", lambda t, T: t.where(T(A) > 0)),
    ("tril", lambda t, T: t.tril(T(A))),
    ("tril_k", lambda t, T: t.tril(T(A), -1)),
    ("triu", lambda t, T: t.triu(T(A), 1)),
    ("triu_batch", lambda t, T: t.triu(T(M))),
    ("diag_vec", lambda t, T: t.diag(T(V))),
    ("diag_vec_k", lambda t, T: t.diag(T(V), 1)),
    ("diag_mat", lambda t, T: t.diag(T(A))),
    ("diag_mat_k", lambda t, T: t.diag(T(A), -1)),
    ("diagonal", lambda t, T: t.diagonal(T(M), 0, 1, 2)),
    ("diag_embed", lambda t, T: t.diag_embed(T(A))),
    ("trace", lambda t, T: t.trace(T(A[:, :3]))),
    ("mm", lambda t, T: t.mm(T(A), T(B))),
    ("bmm", lambda t, T: t.bmm(T(M), T(np.ascontiguousarray(M.transpose(0, 2, 1))))),
    ("matmul", lambda t, T: t.matmul(T(A), T(B))),
    ("einsum_list", lambda t, T: t.einsum("ij,jk->ik", [T(A), T(B)])),
    ("einsum_args", lambda t, T: t.einsum("ij,jk", T(A), T(B))),
    ("clamp", lambda t, T: t.clamp(T(A), min=-1.0, max=1.0)),
    ("clip", lambda t, T: t.clip(T(A), -0.5)),
    ("gather", lambda t, T: t.gather(T(A[:2, :3]), 1, T(I))),
    ("index_select", lambda t, T: t.index_select(T(A), 1, T(np.array([3, 0])))),
    ("cumsum", lambda t, T: t.cumsum(T(A), 1)),
    ("norm", lambda t, T: t.norm(T(A))),
    ("logsumexp", lambda t, T: t.logsumexp(T(A), 1)),
    ("softmax", lambda t, T: t.softmax(T(A), 1)),
    ("log_softmax", lambda t, T: t.log_softmax(T(A), dim=0)),
    ("exp", lambda t, T: t.exp(T(A))),
    ("abs", lambda t, T: t.abs(T(A))),
    ("maximum", lambda t, T: t.maximum(T(A), T(A[::-1].copy()))),
    ("eq", lambda t, T: t.eq(T(A), 0.0)),
    ("isclose", lambda t, T: t.isclose(T(A), T(A + 1e-9))),
    ("unique", lambda t, T: t.unique(T(np.array([3, 1, 3, 2]))), ),
    ("unique_inv", lambda t, T: t.unique(T(np.array([3, 1, 3, 2])), return_inverse=True,
                                         return_counts=True)),
    ("meshgrid_ij", lambda t, T: t.meshgrid(T(V), T(V[:2]), indexing="ij")),
    ("meshgrid_xy", lambda t, T: t.meshgrid(T(V), T(V[:2]), indexing="xy")),
    ("broadcast_to", lambda t, T: t.broadcast_to(T(V), (2, 3))),
    ("narrow", lambda t, T: t.narrow(T(A), 1, 1, 2)),
    ("unbind", lambda t, T: t.unbind(T(A), 1)),
    ("flip", lambda t, T: t.flip(T(A), [0, 1])),
    ("hstack", lambda t, T: t.hstack([T(V), T(V)])),
    ("vstack", lambda t, T: t.vstack([T(V), T(V)])),
    ("masked_fill", lambda t, T: t.masked_fill(T(A), T(A) < 0, 0.0)),
    ("numel", lambda t, T: t.numel(T(A))),
    ("is_tensor", lambda t, T: t.is_tensor(T(A))),
    ("all", lambda t, T: t.all(T(A) > -5)),
    ("any_dim", lambda t, T: t.any(T(A) > 3, dim=1)),
]


def _compare(got: Any, want: Any, where: str) -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple), f"{where}: expected a tuple, got {type(got)}"
        assert len(got) == len(want), where
        if hasattr(want, "_fields"):  # torch.return_types: the same field names
            assert got._fields == tuple(want._fields) if hasattr(got, "_fields") else False, where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}]")
        return
    if isinstance(want, real.Tensor):
        assert isinstance(got, ct.Tensor), f"{where}: expected a Tensor, got {type(got)}"
        w = want.detach().cpu().numpy()
        assert tuple(got.shape) == w.shape, f"{where}: shape {got.shape} != {w.shape}"
        assert got.dtype == w.dtype, f"{where}: dtype {got.dtype} != {w.dtype}"
        np.testing.assert_allclose(got.cpu().numpy(), w, rtol=1e-5, atol=1e-6, err_msg=where)
        return
    assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize(("name", "fn"), CASES, ids=[c[0] for c in CASES])
def test_function_matches_torch(name: str, fn: Any) -> None:
    want = fn(real, lambda a: real.from_numpy(np.array(a)))
    got = fn(ct, lambda a: ct.from_numpy(np.array(a)))
    _compare(got, want, name)


def test_max_dim_is_differentiable_like_torch() -> None:
    x = ct.tensor(A, requires_grad=True)
    xt = real.tensor(A, requires_grad=True)
    ct.max(x, 1).values.sum().backward()
    real.max(xt, 1).values.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy())


def test_tril_diag_gradients_like_torch() -> None:
    x, xt = ct.tensor(A, requires_grad=True), real.tensor(A, requires_grad=True)
    (ct.tril(x) * 2).sum().backward()
    (real.tril(xt) * 2).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy())
    v, vt = ct.tensor(V, requires_grad=True), real.tensor(V, requires_grad=True)
    (ct.diag(v, 1) ** 2).sum().backward()
    (real.diag(vt, 1) ** 2).sum().backward()
    np.testing.assert_allclose(v.grad.cpu().numpy(), vt.grad.cpu().numpy())


def test_out_writes_into_the_given_tensor() -> None:
    a, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    out = ct.empty(2, 2, dtype=ct.float64)
    assert ct.matmul(ct.tensor(a), ct.tensor(b), out=out) is out
    want = real.empty(2, 2, dtype=real.float64)
    real.matmul(real.tensor(a), real.tensor(b), out=want)
    np.testing.assert_allclose(out.cpu().numpy(), want.cpu().numpy())
    resized = ct.zeros(1, dtype=ct.float64)
    ct.exp(ct.tensor(a), out=resized)  # out is resized to the result's shape, as PyTorch
    np.testing.assert_allclose(resized.cpu().numpy(), np.exp(a))
    values, indices = ct.empty(2, dtype=ct.float64), ct.empty(2, dtype=ct.long)
    ct.max(ct.tensor(a), 1, out=(values, indices))
    np.testing.assert_array_equal(indices.cpu().numpy(), [2, 2])
    with pytest.raises(RuntimeError, match="arguments don't support automatic"):
        ct.mul(ct.tensor(a, requires_grad=True), 2.0, out=ct.empty(2, 3, dtype=ct.float64))
    with pytest.raises(RuntimeError, match="can't be cast"):
        ct.exp(ct.tensor(a), out=ct.empty(2, 3, dtype=ct.long))
