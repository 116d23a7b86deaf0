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


# ----- ParameterList and ParameterDict -----
def _scaled(lib, ones):
    """A model holding its parameters in a ParameterList and a ParameterDict, in lib (chainrule's
    nn or torch.nn): x * w_0 * w_1 + b^2 for each b."""

    class Scaled(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ws = lib.ParameterList([lib.Parameter(ones(3) * (i + 1)) for i in range(2)])
            self.bs = lib.ParameterDict({"shift": lib.Parameter(ones(3)),
                                         "bias": lib.Parameter(ones(3) * 0.5)})

        def forward(self, x):
            for w in self.ws:
                x = x * w
            for b in self.bs.values():
                x = x + b * b
            return x

    return Scaled()


def test_parameter_containers_register_as_torch_does(rng):
    torch = pytest.importorskip("torch")
    m, tm = _scaled(nn, cr.ones), _scaled(torch.nn, torch.ones)
    assert list(m.state_dict()) == list(tm.state_dict()) == [
        "ws.0", "ws.1", "bs.bias", "bs.shift"]  # a plain dict's keys are sorted, as PyTorch
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for dtype in DTYPES:
        compare_module(port(m, tm, dtype), tm, [rng.standard_normal((2, 3))], dtype, rng)
    m.to(np.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    state = {k: v * 2 for k, v in m.state_dict().items()}
    m.load_state_dict(state)
    np.testing.assert_array_equal(m.bs["shift"].cpu().numpy(), 2 * np.ones(3))


def test_parameter_list_behaves_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        t = cr.zeros(2) if lib is nn else torch.zeros(2)
        pl = lib.ParameterList([lib.Parameter(t), t + 1, 5, "s"])
        pl.append(t + 2)
        pl.extend([t + 3])
        pl += [t + 4]
        assert len(pl) == 7
        assert list(pl.state_dict()) == ["0", "1", "4", "5", "6"]  # Tensors only
        assert [type(p).__name__ for p in pl][1:4] == ["Parameter", "int", "str"]
        assert pl[1].requires_grad
        assert pl[-1] is pl[6]
        assert pl[2] == 5
        assert float(pl[-3].detach().sum()) == 4.0
        assert isinstance(pl[1:3], lib.ParameterList)
        assert len(pl[1:3]) == 2
        assert list(pl[1:3].state_dict()) == ["0"]
        pl[0] = t + 7  # a Tensor becomes a Parameter, keeping its key
        assert type(pl[0]).__name__ == "Parameter"
        assert next(iter(pl.state_dict())) == "0"
        with pytest.raises(IndexError):
            pl[7]
        with pytest.raises(TypeError, match=r"ParameterList\.extend should be called with an "
                                            "iterable, but got int"):
            pl.extend(3)
        with pytest.raises(TypeError):
            pl[0] = 3  # a non-Parameter where a Parameter is registered
        with pytest.raises(RuntimeError, match="ParameterList should not be called"):
            pl(1)


def test_parameter_dict_behaves_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        t = cr.zeros(2) if lib is nn else torch.zeros(2)
        ordered = lib.ParameterDict(OrderedDict([("b", t), ("a", t + 1)]))
        assert list(ordered.keys()) == ["b", "a"]  # an OrderedDict or pairs keep their order
        assert list(lib.ParameterDict([("b", t), ("a", t)])) == ["b", "a"]
        pd = lib.ParameterDict({"b": lib.Parameter(t), "a": t + 1})
        assert list(pd) == ["a", "b"]
        assert list(pd.state_dict()) == ["a", "b"]
        assert type(pd["a"]).__name__ == "Parameter"
        assert "a" in pd
        assert len(pd) == 2
        pd["c"] = 7  # a plain value: kept, not a parameter
        assert list(pd.keys()) == ["a", "b", "c"]
        assert list(pd.state_dict()) == ["a", "b"]
        assert pd.pop("c") == 7
        assert list(pd) == ["a", "b"]
        assert pd.popitem()[0] == "b"
        assert list(pd) == ["a"]
        assert pd.get("zz", 1) == 1
        assert type(pd.setdefault("q", t)).__name__ == "Parameter"
        assert list(pd) == ["a", "q"]
        assert [k for k, _ in pd.items()] == ["a", "q"]
        assert len(list(pd.values())) == 2
        assert list(reversed(pd)) == ["q", "a"]
        copy = pd.copy()
        assert list(copy) == ["a", "q"]
        assert copy["a"] is pd["a"]
        assert list(pd.fromkeys(["x", "y"])) == ["x", "y"]
        assert list(ordered | pd) == ["b", "a", "q"]
        ordered |= pd
        assert list(ordered) == ["b", "a", "q"]
        del ordered["b"]
        assert list(ordered.state_dict()) == ["a", "q"]
        pd.clear()
        assert len(pd) == 0
        assert not list(pd.parameters())
        with pytest.raises(TypeError, match="ParameterDict"):
            pd[1]
        with pytest.raises(TypeError, match="iterable of key/value pairs, but got int"):
            pd.update(3)
        with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
            pd.update([("a", 1, 2)])
        with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
            pd(1)


def test_parameter_container_reprs():
    pl = nn.ParameterList([cr.zeros((2, 3)), 5])
    assert repr(pl) == ("ParameterList(\n  (0): Parameter containing: [float32 of size 2x3]\n"
                        "  (1): Object of type: int\n)")
    assert repr(nn.ParameterDict()) == "ParameterDict()"
