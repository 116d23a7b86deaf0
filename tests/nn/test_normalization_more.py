"""GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm and RMSNorm against PyTorch: outputs,
input and parameter gradients, running statistics over several training steps, eval mode,
float32 and float64, state dict keys, reprs and errors. (BatchNorm3d runs with the other
BatchNorms in test_normalization.py; gradcheck and second order in test_functional.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module, port


def _randomize_affine(tm, rng):
    """Give the torch module non-trivial parameters (they start at one and zero)."""
    import torch

    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.tensor(1 + 0.5 * rng.standard_normal(tuple(p.shape))))


def _check_buffers(m, tm, dtype, what):
    bufs = dict(m.named_buffers())
    assert list(bufs) == [n for n, _ in tm.named_buffers()]
    for name, buf in tm.named_buffers():
        if name == "num_batches_tracked":
            assert bufs[name].cpu().numpy().dtype == np.int64
            assert int(bufs[name].cpu().numpy()) == int(buf), what
        else:
            close(bufs[name], buf, dtype, f"{name} {what}")


def _train_then_eval(m, tm, shape, dtype, rng, steps=3, scale=1.0):
    """Several training steps (outputs, gradients, buffers), then one in eval mode."""
    assert list(m.state_dict()) == list(tm.state_dict())
    for step in range(steps):
        compare_module(m, tm, [2 + 3 * rng.standard_normal(shape)], dtype, rng, scale=scale)
        _check_buffers(m, tm, dtype, f"after step {step}")
    m.eval()
    tm.eval()
    compare_module(m, tm, [1 + 2 * rng.standard_normal(shape)], dtype, rng, scale=scale)
    _check_buffers(m, tm, dtype, "after eval")


# ----- GroupNorm -----
GN_CASES = {
    "2d": (2, 8, (4, 8), {}),
    "3d": (2, 6, (3, 6, 5), {}),
    "4d": (4, 8, (2, 8, 3, 5), {"eps": 1e-3}),
    "5d": (1, 4, (2, 4, 2, 3, 2), {}),
    "per_channel": (6, 6, (2, 6, 4), {}),
    "no_affine": (2, 4, (3, 4, 5), {"affine": False}),
    "no_bias": (2, 4, (3, 4, 5), {"bias": False}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(GN_CASES))
def test_groupnorm_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    groups, channels, shape, kw = GN_CASES[case]
    tm = torch.nn.GroupNorm(groups, channels, **kw)
    _randomize_affine(tm, rng)
    m = port(nn.GroupNorm(groups, channels, **kw), tm, dtype)
    # torch's float32 group norm kernel is ~4e-6 from float64 on these values (chainrule's
    # ~1.7e-6), more than float32's default tolerance where a gradient entry cancels to ~0.1
    scale = 10.0 if dtype == np.float32 else 1.0
    _train_then_eval(m, tm, shape, dtype, rng, steps=2, scale=scale)
    assert repr(m) == repr(tm)


def test_groupnorm_state_dict_and_parameters_as_torch():
    torch = pytest.importorskip("torch")
    for kw in ({}, {"affine": False}, {"bias": False}):
        m, tm = nn.GroupNorm(2, 4, **kw), torch.nn.GroupNorm(2, 4, **kw)
        assert list(m.state_dict()) == list(tm.state_dict())
        assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    m = nn.GroupNorm(2, 4)
    assert m.state_dict()["weight"].dtype == np.float32
    np.testing.assert_array_equal(m.weight.cpu().numpy(), 1)
    np.testing.assert_array_equal(m.bias.cpu().numpy(), 0)


def test_groupnorm_normalizes_each_group(rng):
    x = rng.standard_normal((3, 6, 4)) * 5 + 2
    y = nn.GroupNorm(2, 6).double()(cr.tensor(x)).cpu().numpy().reshape(3, 2, 12)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)  # eps = 1e-5 shrinks it a little


def test_groupnorm_errors():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by "
                                         r"num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="GroupNorm: num_groups must be a positive integer, "
                                         "got 0"):
        nn.GroupNorm(0, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected input with 9 channels "
                                         r"\(num_channels\), got input of shape \(2, 6, 4\)"):
        nn.GroupNorm(3, 9)(cr.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match=r"group_norm: expected the 6 channels of input of "
                                         r"shape \(2, 6, 4\) to be divisible by num_groups=4"):
        F.group_norm(cr.zeros((2, 6, 4)), 4)
    with pytest.raises(ValueError, match=r"group_norm: weight of shape \(5,\) does not match 6 "
                                         r"channels"):
        F.group_norm(cr.zeros((2, 6, 4)), 3, cr.ones(5))
    with pytest.raises(ValueError, match=r"group_norm: expected an input of at least 2 "
                                         r"dimensions .* got shape \(6,\)"):
        F.group_norm(cr.zeros(6), 3)
    with pytest.raises(ValueError, match=r"GroupNorm: expected more than 1 value per channel"):
        nn.GroupNorm(3, 3)(cr.zeros((1, 3)))


def test_groupnorm_without_affine_ignores_num_channels_as_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 6, 4))
    got = nn.GroupNorm(3, 9, affine=False).double()(cr.tensor(x))
    close(got, torch.nn.GroupNorm(3, 9, affine=False)(torch.tensor(x)), np.float64)


# ----- InstanceNorm -----
IN_CASES = {
    "1d": ("InstanceNorm1d", (4, 3, 5)),
    "2d": ("InstanceNorm2d", (2, 3, 4, 3)),
    "3d": ("InstanceNorm3d", (2, 3, 2, 3, 2)),
}
IN_OPTIONS = {
    "default": {},
    "affine": {"affine": True},
    "no_bias": {"affine": True, "bias": False},
    "running": {"track_running_stats": True},
    "affine_running": {"affine": True, "track_running_stats": True, "momentum": 0.3,
                       "eps": 1e-3},
    "momentum_none": {"track_running_stats": True, "momentum": None},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", list(IN_OPTIONS))
@pytest.mark.parametrize("case", list(IN_CASES))
def test_instancenorm_train_then_eval_matches_torch(case, options, dtype, rng):
    torch = pytest.importorskip("torch")
    name, shape = IN_CASES[case]
    kw = IN_OPTIONS[options]
    tm = getattr(torch.nn, name)(3, **kw)
    _randomize_affine(tm, rng)
    m = port(getattr(nn, name)(3, **kw), tm, dtype)
    _train_then_eval(m, tm, shape, dtype, rng)
    assert repr(m) == repr(tm)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(IN_CASES))
def test_instancenorm_unbatched_input_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    name, shape = IN_CASES[case]
    kw = {"affine": True, "track_running_stats": True}
    tm = getattr(torch.nn, name)(3, **kw)
    _randomize_affine(tm, rng)
    m = port(getattr(nn, name)(3, **kw), tm, dtype)
    _train_then_eval(m, tm, shape[1:], dtype, rng, steps=2)


def test_instancenorm_eval_uses_running_statistics(rng):
    m = nn.InstanceNorm1d(2, track_running_stats=True).double()
    m.running_mean.copy_(cr.tensor([1.0, -1.0]))
    m.running_var.copy_(cr.tensor([4.0, 0.25]))
    m.eval()
    x = rng.standard_normal((3, 2, 5))
    want = (x - np.array([1.0, -1.0])[:, None]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)[:, None]
    np.testing.assert_allclose(m(cr.tensor(x)).cpu().numpy(), want, rtol=1e-12)


def test_instancenorm_state_dict_keys_as_torch():
    torch = pytest.importorskip("torch")
    for kw in ({}, {"affine": True}, {"track_running_stats": True},
               {"affine": True, "bias": False, "track_running_stats": True}):
        m, tm = nn.InstanceNorm2d(4, **kw), torch.nn.InstanceNorm2d(4, **kw)
        assert list(m.state_dict()) == list(tm.state_dict()), kw
        assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    sd = nn.InstanceNorm2d(4, track_running_stats=True).state_dict()
    assert sd["num_batches_tracked"].dtype == np.int64
    assert sd["running_var"].dtype == np.float32


def test_instancenorm_is_not_a_batchnorm():
    """SyncBatchNorm.convert_sync_batchnorm converts BatchNorms only, as PyTorch's."""
    m = nn.Sequential(nn.InstanceNorm2d(3, affine=True), nn.BatchNorm2d(3))
    out = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert type(out[0]) is nn.InstanceNorm2d
    assert type(out[1]) is nn.SyncBatchNorm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_functional_instance_norm_matches_torch(use_input_stats, dtype, rng):
    """F.instance_norm with running statistics: updated in place (input stats), or used."""
    torch = pytest.importorskip("torch")
    x = (2 + 3 * rng.standard_normal((4, 3, 6))).astype(dtype)
    w, b = (rng.standard_normal(3).astype(dtype) for _ in range(2))
    rm, rv = rng.standard_normal(3).astype(dtype), rng.uniform(0.5, 2, 3).astype(dtype)
    crm, crv, trm, trv = cr.tensor(rm), cr.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    txs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.instance_norm(xs[0], crm, crv, xs[1], xs[2], use_input_stats, 0.2, 1e-4)
    ty = torch.nn.functional.instance_norm(txs[0], trm, trv, txs[1], txs[2], use_input_stats,
                                           0.2, 1e-4)
    close(y, ty, dtype, "output")
    close(crm, trm, dtype, "running_mean")
    close(crv, trv, dtype, "running_var")
    g = rng.standard_normal(x.shape).astype(dtype)
    (y * cr.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t, what in zip(xs, txs, ("input", "weight", "bias"), strict=True):
        close(a.grad, t.grad, dtype, f"gradient of {what}")


def test_instancenorm_errors_and_warning():
    with pytest.raises(ValueError, match=r"InstanceNorm1d: expected 2D or 3D input \(got 4D"):
        nn.InstanceNorm1d(3)(cr.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D or 4D input \(got 2D"):
        nn.InstanceNorm2d(3)(cr.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"InstanceNorm3d: expected 4D or 5D input"):
        nn.InstanceNorm3d(3)(cr.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"InstanceNorm1d: expected input's size at dim=1 to "
                                         r"match num_features \(5\), but got: 6"):
        nn.InstanceNorm1d(5, affine=True)(cr.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected input's size at dim=0 to "
                                         r"match num_features \(5\), but got: 6"):
        nn.InstanceNorm2d(5, track_running_stats=True)(cr.zeros((6, 4, 4)))
    with pytest.warns(UserWarning, match=r"InstanceNorm1d: input's size at dim=1 does not "
                                         r"match num_features"):
        y = nn.InstanceNorm1d(5)(cr.ones((2, 6, 4)))
    assert y.shape == (2, 6, 4)
    with pytest.raises(ValueError, match=r"InstanceNorm1d: expected more than 1 spatial "
                                         r"element when training, got input of shape "
                                         r"\(2, 6, 1\)"):
        nn.InstanceNorm1d(6)(cr.zeros((2, 6, 1)))
    with pytest.raises(ValueError, match=r"instance_norm: running_mean of shape \(5,\) does "
                                         r"not match 6 channels"):
        F.instance_norm(cr.zeros((2, 6, 4)), cr.zeros(5), cr.ones(5))
    with pytest.raises(ValueError, match="instance_norm: running_mean and running_var are "
                                         "needed when use_input_stats is False"):
        F.instance_norm(cr.zeros((2, 6, 4)), use_input_stats=False)


# ----- LocalResponseNorm -----
LRN_CASES = {
    "3d size 2": (2, {}, (2, 6, 5)),
    "3d size 3 options": (3, {"alpha": 0.5, "beta": 0.6, "k": 2.0}, (3, 5, 4)),
    "4d size 5": (5, {"alpha": 0.2}, (2, 7, 3, 4)),
    "5d size 4": (4, {"alpha": 0.3, "beta": 1.2}, (2, 6, 2, 3, 2)),
    "size 1": (1, {"alpha": 0.4}, (2, 4, 3)),
    "size over channels": (9, {"alpha": 0.4}, (2, 4, 3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LRN_CASES))
def test_local_response_norm_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    size, kw, shape = LRN_CASES[case]
    m, tm = nn.LocalResponseNorm(size, **kw), torch.nn.LocalResponseNorm(size, **kw)
    compare_module(m, tm, [2 * rng.standard_normal(shape)], dtype, rng)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict()) == []


def test_local_response_norm_errors_and_empty_input():
    with pytest.raises(ValueError, match=r"LocalResponseNorm: expected 3D or higher "
                                         r"dimensionality input \(got 2 dimensions"):
        nn.LocalResponseNorm(2)(cr.zeros((2, 6)))
    with pytest.raises(ValueError, match="local_response_norm: size must be a positive "
                                         "integer, got 0"):
        F.local_response_norm(cr.zeros((2, 6, 3)), 0)
    empty = cr.zeros((0, 3, 4))
    assert F.local_response_norm(empty, 2).shape == (0, 3, 4)


# ----- RMSNorm -----
RMS_CASES = {
    "last": ((4, 6), 6, {}),
    "two_axes": ((2, 3, 4, 5), (4, 5), {}),
    "list_shape": ((3, 5), [5], {"eps": 1e-2}),
    "no_affine": ((3, 5), 5, {"elementwise_affine": False}),
    "whole_input": ((3, 5), (3, 5), {"eps": 1e-6}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(RMS_CASES))
def test_rmsnorm_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    shape, ns, kw = RMS_CASES[case]
    tm = torch.nn.RMSNorm(ns, **kw)
    _randomize_affine(tm, rng)
    m = port(nn.RMSNorm(ns, **kw), tm, dtype)
    assert list(m.state_dict()) == list(tm.state_dict())
    compare_module(m, tm, [3 * rng.standard_normal(shape) - 1], dtype, rng)
    m.eval()
    tm.eval()
    compare_module(m, tm, [rng.standard_normal(shape)], dtype, rng)
    assert repr(m) == repr(tm)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_default_eps_is_the_dtypes_machine_epsilon(dtype, rng):
    """Inputs of size ~sqrt(eps): the result depends on eps, which is finfo(dtype).eps."""
    torch = pytest.importorskip("torch")
    eps = np.finfo(dtype).eps
    x = (np.sqrt(eps) * rng.standard_normal((3, 4))).astype(dtype)
    x[1] = 0  # a zero row: output 0, gradient 1/sqrt(eps), finite
    compare_module(nn.RMSNorm(4, elementwise_affine=False), torch.nn.RMSNorm(
        4, elementwise_affine=False), [x], dtype, rng, scale=10.0)
    y = F.rms_norm(cr.tensor(x), (4,)).cpu().numpy()
    want = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + eps)
    np.testing.assert_allclose(y, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert y.dtype == dtype


def test_rmsnorm_errors():
    with pytest.raises(ValueError, match=r"RMSNorm: input of shape \(2, 6, 4\) does not end "
                                         r"with normalized_shape \(5,\)"):
        nn.RMSNorm(5)(cr.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match=r"rms_norm: weight of shape \(3,\) does not match "
                                         r"normalized_shape \(4,\)"):
        F.rms_norm(cr.zeros((2, 4)), (4,), cr.ones(3))
    with pytest.raises(ValueError, match=r"rms_norm: input of shape \(4,\) does not end with "
                                         r"normalized_shape \(2, 4\)"):
        F.rms_norm(cr.zeros(4), (2, 4))


# ----- all of them -----
LAYERS = {
    "group_norm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 2)),
    "instance_norm": (lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
                      (2, 4, 3, 2)),
    "batch_norm3d": (lambda: nn.BatchNorm3d(4), (2, 4, 2, 3, 2)),
    "local_response_norm": (lambda: nn.LocalResponseNorm(3), (2, 4, 3, 2)),
    "rms_norm": (lambda: nn.RMSNorm((3, 2)), (2, 4, 3, 2)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_float32_stays_float32(name, rng):
    make, shape = LAYERS[name]
    m = make()
    x = cr.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    for _ in range(2):  # the running statistics stay float32 too
        y = m(x)
        (y * y).sum().backward()
    assert y.dtype == x.grad.dtype == np.float32
    for pname, p in m.named_parameters():
        assert p.dtype == p.grad.dtype == np.float32, pname
    for bname, b in m.named_buffers():
        assert b.dtype == (np.int64 if bname == "num_batches_tracked" else np.float32), bname


def test_torch_namespace_has_the_layers():
    import chainrule.torch as torch

    for name in ("GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
                 "BatchNorm3d", "LocalResponseNorm", "RMSNorm"):
        assert getattr(torch.nn, name) is getattr(nn, name)
    assert torch.nn.modules.normalization.GroupNorm is nn.GroupNorm
    assert torch.nn.modules.instancenorm.InstanceNorm2d is nn.InstanceNorm2d
    assert torch.nn.modules.batchnorm.BatchNorm3d is nn.BatchNorm3d
    for name in ("group_norm", "instance_norm", "local_response_norm", "rms_norm"):
        assert getattr(torch.nn.functional, name) is getattr(F, name)


def test_signatures_are_torchs():
    torch = pytest.importorskip("torch")
    import inspect

    for name in ("GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
                 "BatchNorm3d", "LocalResponseNorm", "RMSNorm"):
        ours = inspect.signature(getattr(nn, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
        assert [(p.name, p.default, p.kind) for p in ours.values()] == [
            (p.name, p.default, p.kind) for p in theirs.values()], name
    for name in ("group_norm", "instance_norm", "local_response_norm", "rms_norm"):
        ours = inspect.signature(getattr(F, name)).parameters
        theirs = inspect.signature(getattr(torch.nn.functional, name)).parameters
        assert [(p.default, p.kind) for p in ours.values()] == [
            (p.default, p.kind) for p in theirs.values()], name
        assert list(ours)[1:] == list(theirs)[1:], name  # the input is x here, input there
