"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ against PyTorch, and shared gradients."""

from __future__ import annotations

import numpy as np
import pytest
from reference import to_numpy

import chainrule as cr
from chainrule.nn.module import Parameter
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (5,), (), (2, 3, 2)]


def _params(dtype: type, scale: float = 1.0) -> list[Parameter]:
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        p = Parameter(np.zeros(shape, dtype=dtype))
        p.grad = cr.Tensor((scale * rng.normal(size=shape)).astype(dtype))
        params.append(p)
    params.append(Parameter(np.zeros(2, dtype=dtype)))  # no gradient: skipped
    return params


def _torch_params(params: list[Parameter]) -> list:
    import torch

    out = []
    for p in params:
        t = torch.from_numpy(p.cpu().numpy().copy()).requires_grad_()
        if p.grad is not None:
            t.grad = torch.from_numpy(p.grad.cpu().numpy().copy())
        out.append(t)
    return out


def _assert_grads_equal(params: list, tparams: list, dtype: type) -> None:
    tol = {"rtol": 1e-12} if dtype == np.float64 else {"rtol": 1e-6, "atol": 1e-7}
    for p, t in zip(params, tparams, strict=True):
        if t.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.cpu().numpy(), t.grad.cpu().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, float("inf"), 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype: type, norm_type: float, max_norm: float) -> None:
    torch = pytest.importorskip("torch")
    params = _params(dtype)
    tparams = _torch_params(params)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    assert isinstance(total, cr.Tensor)
    assert total.shape == ()
    assert total.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(total.cpu().numpy(), want.cpu().numpy(), rtol=rtol)
    _assert_grads_equal(params, tparams, dtype)


def test_clip_grad_norm_scales_in_place_and_leaves_small_gradients_alone() -> None:
    params = _params(np.float32, scale=10.0)
    arrays = [p.grad._data for p in params if p.grad is not None]
    before = [to_numpy(a).copy() for a in arrays]
    total = float(clip_grad_norm_(params, 1.0))
    for p, a, b in zip(params, arrays, before, strict=False):
        assert p.grad._data is a  # owned, writeable: scaled in place
        np.testing.assert_allclose(to_numpy(a), b * (1.0 / (total + 1e-6)), rtol=1e-6)
    clipped = [to_numpy(a).copy() for a in arrays]
    clip_grad_norm_(params, 10.0)  # norm now 1 < 10: unchanged
    for a, c in zip(arrays, clipped, strict=True):
        np.testing.assert_array_equal(to_numpy(a), c)


def test_a_gradient_shared_by_two_parameters_is_scaled_once() -> None:
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    shared = cr.Tensor(np.array([3.0, 4.0]))
    a.grad = b.grad = shared
    total = clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(float(total), np.sqrt(50.0))  # counted twice, as PyTorch
    scale = 1.0 / (np.sqrt(50.0) + 1e-6)
    np.testing.assert_allclose(a.grad.cpu().numpy(), [3.0 * scale, 4.0 * scale])
    assert b.grad._data is a.grad._data  # one array, scaled in place once


def test_views_and_read_only_gradients_are_replaced_not_written() -> None:
    base = np.arange(1.0, 7.0)
    a, b, c = Parameter(np.zeros(3)), Parameter(np.zeros(3)), Parameter(np.zeros(2))
    a.grad, b.grad = cr.Tensor(base[:3]), cr.Tensor(base[3:])  # two views of one array
    c.grad = cr.Tensor(np.broadcast_to(np.float64(2.0), (2,)))  # read-only
    clip_value = 2.5
    clip_grad_value_([a, b, c], clip_value)
    np.testing.assert_array_equal(base, np.arange(1.0, 7.0))
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [1.0, 2.0, 2.5])
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [2.5, 2.5, 2.5])
    np.testing.assert_array_equal(c.grad.cpu().numpy(), [2.0, 2.0])
    a.grad = cr.Tensor(base[:3])
    clip_grad_norm_([a], 1.0)
    np.testing.assert_array_equal(base, np.arange(1.0, 7.0))
    np.testing.assert_allclose(np.linalg.norm(a.grad.cpu().numpy()), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(dtype: type) -> None:
    torch = pytest.importorskip("torch")
    params = _params(dtype)
    tparams = _torch_params(params)
    assert clip_grad_value_(params, 0.7) is None
    torch.nn.utils.clip_grad_value_(tparams, 0.7)
    _assert_grads_equal(params, tparams, dtype)


def test_non_finite_norms() -> None:
    torch = pytest.importorskip("torch")
    params = _params(np.float64)
    params[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    tparams = _torch_params(params)
    total = clip_grad_norm_(params, 1.0)
    want = torch.nn.utils.clip_grad_norm_(tparams, 1.0)
    assert float(total) == float(want) == np.inf
    for p, t in zip(params, tparams, strict=True):  # scaled by 0 (inf * 0 = nan), as PyTorch
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.cpu().numpy(), t.grad.cpu().numpy())


def test_no_gradients_and_a_single_tensor() -> None:
    total = clip_grad_norm_([Parameter(np.zeros(2))], 1.0)
    assert float(total) == 0.0
    assert total.dtype == cr.get_default_dtype()
    p = Parameter(np.zeros(2, dtype=np.float32))
    p.grad = cr.Tensor(np.array([3.0, 4.0], dtype=np.float32))
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.cpu().numpy(), [0.6, 0.8], rtol=1e-5)
