"""Containers (Sequential, ModuleList, ModuleDict, Identity, Residual) and state dicts."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from reference import to_numpy

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, compare_module, port


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Dropout(0.0),
                         nn.Linear(8, 3))


def _torch_mlp():
    import torch.nn as tn

    return tn.Sequential(tn.Linear(4, 8), tn.ReLU(), tn.BatchNorm1d(8), tn.Dropout(0.0),
                         tn.Linear(8, 3))


def test_sequential_state_dict_keys_equal_torch():
    pytest.importorskip("torch")
    assert list(_mlp().state_dict()) == list(_torch_mlp().state_dict())


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_matches_torch(dtype, rng):
    pytest.importorskip("torch")
    tm = _torch_mlp()
    m = port(_mlp(), tm, dtype)
    # batch statistics of 6 samples amplify float32 rounding in the first layer's gradient
    compare_module(m, tm, [rng.standard_normal((6, 4))], dtype, rng, scale=10.0)
    m.eval()
    tm.eval()
    compare_module(m, tm, [rng.standard_normal((6, 4))], dtype, rng, scale=10.0)


def test_sequential_indexing():
    m = _mlp()
    assert len(m) == 5
    assert isinstance(m[0], nn.Linear)
    assert m[-1] is m[4]
    tail = m[2:]
    assert isinstance(tail, nn.Sequential)
    assert next(iter(tail.state_dict())) == "2.weight"  # slices keep keys, as PyTorch
    assert [type(c) for c in m] == [type(c) for c in m.children()]
    m.append(nn.Tanh())
    assert len(m) == 6
    del m[1]
    assert [k for k, _ in m.named_children()] == ["0", "1", "2", "3", "4"]
    assert isinstance(m[1], nn.BatchNorm1d)
    with pytest.raises(IndexError):
        m[10]


def test_sequential_from_ordered_dict():
    m = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(m.state_dict()) == ["fc.weight", "fc.bias"]
    assert m(cr.zeros(3, 2)).shape == (3, 2)


def test_module_list_and_dict_keys_equal_torch():
    torch = pytest.importorskip("torch")
    ml = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 1)])
    tml = torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)])
    assert list(ml.state_dict()) == list(tml.state_dict())
    ml.append(nn.LayerNorm(1))
    ml.insert(0, nn.Identity())
    assert len(ml) == 4
    assert isinstance(ml[0], nn.Identity)
    assert list(ml.state_dict())[:2] == ["1.weight", "1.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    tmd = torch.nn.ModuleDict({"enc": torch.nn.Linear(2, 3), "dec": torch.nn.Linear(3, 2)})
    assert list(md.state_dict()) == list(tmd.state_dict())
    assert list(md) == ["enc", "dec"]
    assert "enc" in md
    md["head"] = nn.Tanh()
    assert list(md.keys()) == ["enc", "dec", "head"]


def test_nested_containers_state_dict_keys():
    torch = pytest.importorskip("torch")
    m = nn.Sequential(nn.ModuleList([nn.Linear(2, 2)]), nn.ModuleDict({"bn": nn.BatchNorm1d(2)}))
    tm = torch.nn.Sequential(torch.nn.ModuleList([torch.nn.Linear(2, 2)]),
                             torch.nn.ModuleDict({"bn": torch.nn.BatchNorm1d(2)}))
    assert list(m.state_dict()) == list(tm.state_dict())


def test_identity_and_residual(rng):
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert nn.Identity(5, key=1)(x) is x
    lin = nn.Linear(4, 4).double()
    res = nn.Residual(lin)
    assert list(res.state_dict()) == ["fn.weight", "fn.bias"]
    y = res(x)
    np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy() + lin(x).cpu().numpy())
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(),
                               1 + lin.weight.cpu().numpy().sum(0)[None].repeat(3, 0))
    assert lin.weight.grad is not None
    np.testing.assert_allclose(nn.Residual(lambda t: 2 * t)(x).cpu().numpy(), 3 * x.cpu().numpy())


def test_train_and_eval_reach_every_submodule():
    m = nn.Sequential(nn.Dropout(), nn.ModuleList([nn.BatchNorm1d(2)]))
    m.eval()
    assert not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())


def test_load_state_dict_errors_name_the_key():
    m = _mlp()
    sd = dict(m.state_dict())
    missing = dict(sd)
    del missing["4.bias"]
    with pytest.raises(RuntimeError, match=r"missing keys: '4\.bias'"):
        m.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"unexpected keys: 'extra\.weight'"):
        m.load_state_dict({**sd, "extra.weight": np.zeros(2)})
    with pytest.raises(RuntimeError, match=r"key '0\.weight': shape \(4, 8\)"):
        m.load_state_dict({**sd, "0.weight": np.zeros((4, 8))})
    result = m.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["4.bias"]
    assert result.unexpected_keys == []


def test_state_dict_round_trip_keeps_values_and_dtypes(rng):
    a, b = _mlp(), _mlp()
    a.train()
    a(cr.tensor(rng.standard_normal((5, 4)).astype(np.float32)))
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_array_equal(to_numpy(va), to_numpy(vb), err_msg=k)
        assert va.dtype == vb.dtype
