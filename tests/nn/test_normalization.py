"""BatchNorm1d/2d/3d and LayerNorm against PyTorch: both modes, running statistics, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, close, compare_module, port

BN_CASES = {
    "bn1d_2d": (nn.BatchNorm1d, "BatchNorm1d", (8, 3)),
    "bn1d_3d": (nn.BatchNorm1d, "BatchNorm1d", (4, 3, 5)),
    "bn2d": (nn.BatchNorm2d, "BatchNorm2d", (4, 3, 5, 2)),
    "bn3d": (nn.BatchNorm3d, "BatchNorm3d", (2, 3, 2, 3, 2)),
}
BN_OPTIONS = {
    "default": {},
    "momentum": {"momentum": 0.3, "eps": 1e-3},
    "cumulative": {"momentum": None},
    "no_affine": {"affine": False},
    "no_bias": {"bias": False},
    "no_running": {"track_running_stats": False},
}


def _randomize_affine(tm, rng):
    """Give the torch module non-trivial weight and bias (they start at one and zero)."""
    import torch

    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", list(BN_OPTIONS))
@pytest.mark.parametrize("case", list(BN_CASES))
def test_batchnorm_train_then_eval_matches_torch(case, options, dtype, rng):
    torch = pytest.importorskip("torch")
    cls, tname, shape = BN_CASES[case]
    kw = BN_OPTIONS[options]
    tm = getattr(torch.nn, tname)(3, **kw)
    _randomize_affine(tm, rng)
    m = port(cls(3, **kw), tm, dtype)
    for step in range(3):  # several training steps: running statistics follow torch's
        x = 2 + 3 * rng.standard_normal(shape)
        compare_module(m, tm, [x], dtype, rng)
        for name, buf in tm.named_buffers():
            got = dict(m.named_buffers())[name]
            if name == "num_batches_tracked":
                assert got.cpu().numpy().dtype == np.int64
                assert int(got.cpu().numpy()) == step + 1
            else:
                close(got, buf, dtype, f"{name} after step {step}")
    m.eval()
    tm.eval()
    compare_module(m, tm, [1 + rng.standard_normal(shape)], dtype, rng)
    assert repr(m) == repr(tm)
    if kw.get("track_running_stats", True):
        assert int(m.num_batches_tracked.cpu().numpy()) == 3  # eval does not count


def test_batchnorm_state_dict_keys_and_dtypes_as_torch():
    torch = pytest.importorskip("torch")
    m, tm = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    assert list(m.state_dict()) == list(tm.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    sd = m.state_dict()
    assert sd["num_batches_tracked"].shape == ()
    assert sd["num_batches_tracked"].dtype == np.int64
    assert sd["running_var"].dtype == np.float32
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m2 = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    t2 = torch.nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(m2.state_dict()) == list(t2.state_dict()) == []
    m3, t3 = nn.BatchNorm3d(4, bias=False), torch.nn.BatchNorm3d(4, bias=False)
    assert list(m3.state_dict()) == list(t3.state_dict())
    assert [n for n, _ in m3.named_parameters()] == ["weight"]


def test_batchnorm_eval_uses_running_statistics(rng):
    m = nn.BatchNorm1d(2).double()
    m.running_mean.copy_(cr.tensor([1.0, -1.0]))
    m.running_var.copy_(cr.tensor([4.0, 0.25]))
    m.eval()
    x = rng.standard_normal((5, 2))
    want = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(m(cr.tensor(x)).cpu().numpy(), want, rtol=1e-12)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D"):
        nn.BatchNorm1d(3)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.zeros(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected 5D input \(got 4D input of "
                                         r"shape \(2, 3, 4, 5\)\)"):
        nn.BatchNorm3d(3)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"running_mean of shape \(3,\) does not match 2"):
        nn.BatchNorm1d(3)(cr.zeros(4, 2))


def test_batchnorm_float32_stays_float32(rng):
    m = nn.BatchNorm2d(3)
    x = cr.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    y = m(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == m.weight.grad.dtype == m.running_var.dtype == np.float32


LN_CASES = {
    "last": ((4, 6), 6, {}),
    "two_axes": ((2, 3, 4, 5), (4, 5), {}),
    "eps": ((3, 5), [5], {"eps": 1e-2}),
    "no_affine": ((3, 5), 5, {"elementwise_affine": False}),
    "no_bias": ((3, 5), 5, {"bias": False}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LN_CASES))
def test_layernorm_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    shape, ns, kw = LN_CASES[case]
    tm = torch.nn.LayerNorm(ns, **kw)
    _randomize_affine(tm, rng)
    m = port(nn.LayerNorm(ns, **kw), tm, dtype)
    assert list(m.state_dict()) == list(tm.state_dict())
    compare_module(m, tm, [3 * rng.standard_normal(shape) - 1], dtype, rng)
    m.eval()
    tm.eval()
    compare_module(m, tm, [rng.standard_normal(shape)], dtype, rng)


def test_layernorm_rejects_mismatched_shape():
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(4)(cr.zeros(2, 5))


class _TorchNormalize:
    """torch has F.normalize only: the same call as a parameterless module for compare_module."""

    def __init__(self, p: float, dim: int) -> None:
        self.p, self.dim = p, dim

    def __call__(self, x):
        import torch

        return torch.nn.functional.normalize(x, self.p, self.dim)

    def named_parameters(self):
        return iter(())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("p", "dim"), [(2.0, 1), (1.0, 1), (2.0, -1), (3.0, 0), (np.inf, 1)])
def test_normalize_module_matches_torch_functional(p, dim, dtype, rng):
    pytest.importorskip("torch")
    x = rng.standard_normal((4, 5, 3))
    compare_module(nn.Normalize(p=p, dim=dim), _TorchNormalize(p, dim), [x], dtype, rng)


def test_normalize_l2_rows_have_unit_norm_and_l1_rows_unit_sum(rng):
    x = rng.standard_normal((6, 8))
    y = nn.Normalize()(cr.tensor(x)).cpu().numpy()
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1)
    np.testing.assert_allclose(np.abs(nn.Normalize(p=1)(cr.tensor(x)).cpu().numpy()).sum(1), 1)
    zero = nn.Normalize()(cr.zeros((2, 3))).cpu().numpy()  # eps keeps a zero row finite
    np.testing.assert_array_equal(zero, 0)
    assert repr(nn.Normalize(p=1, dim=0)) == "Normalize(p=1, dim=0, eps=1e-12)"
    assert list(nn.Normalize().parameters()) == []
    with pytest.raises(ValueError, match="p must be positive"):
        nn.Normalize(p=0)
