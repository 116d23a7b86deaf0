"""chainrule.torch's namespace: dtypes, factories (dtype=, device=, requires_grad=), devices,
randomness, submodules, and the error for a name it does not have."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch as real
from reference import cpu_only, cuda_available, needs_no_cuda

import chainrule as cr
import chainrule.torch as ct
from chainrule.tensor import Size

DTYPES = ["float", "float32", "double", "float64", "half", "float16", "long", "int64", "int",
          "int32", "short", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("name", DTYPES)
def test_dtypes_map_to_torchs(name: str) -> None:
    want = real.empty(2, dtype=getattr(real, name)).cpu().numpy().dtype
    got = getattr(ct, name)
    assert got == want
    assert isinstance(got, ct.dtype)
    assert ct.zeros(2, dtype=got).dtype == got


def test_dtype_equalities() -> None:
    assert ct.float32 == cr.float32
    assert ct.tensor([1.0]).dtype == ct.float
    assert ct.tensor([1, 2]).dtype == ct.long
    assert ct.tensor(True).dtype == ct.bool
    assert {ct.float32: "f"}[ct.ones(1).dtype] == "f"
    assert ct.get_default_dtype() == ct.float32
    assert ct.is_floating_point(ct.ones(2))
    assert not ct.is_floating_point(ct.arange(2))
    assert ct.finfo(ct.float32).eps == real.finfo(real.float32).eps
    assert ct.iinfo(ct.int64).max == real.iinfo(real.int64).max


@pytest.mark.parametrize(("call", "dtype", "shape"), [
    (lambda t: t.zeros(2, 3), "float32", (2, 3)),
    (lambda t: t.ones((2, 3), dtype=t.float64), "float64", (2, 3)),
    (lambda t: t.full((2,), 7), "int64", (2,)),
    (lambda t: t.full((2,), 1.5), "float32", (2,)),
    (lambda t: t.arange(5), "int64", (5,)),
    (lambda t: t.arange(0.0, 1.0, 0.25), "float32", (4,)),
    (lambda t: t.linspace(0, 1, 5), "float32", (5,)),
    (lambda t: t.eye(3, 2), "float32", (3, 2)),
    (lambda t: t.tensor([[1, 2]], dtype=t.float32), "float32", (1, 2)),
    (lambda t: t.tensor(np.zeros(2, np.float64)), "float64", (2,)),
    (lambda t: t.randn(2, 3), "float32", (2, 3)),
    (lambda t: t.rand((4,)), "float32", (4,)),
    (lambda t: t.randint(10, (3, 2)), "int64", (3, 2)),
    (lambda t: t.randint(2, 10, (3,)), "int64", (3,)),
    (lambda t: t.randperm(6), "int64", (6,)),
    (lambda t: t.randn_like(t.ones(2, 2, dtype=t.float64)), "float64", (2, 2)),
    (lambda t: t.zeros_like(t.ones(3, dtype=t.long)), "int64", (3,)),
    (lambda t: t.full_like(t.ones(3), 2), "float32", (3,)),
    (lambda t: t.FloatTensor(2, 3), "float32", (2, 3)),
    (lambda t: t.LongTensor([1, 2]), "int64", (2,)),
    (lambda t: t.multinomial(t.tensor([0.2, 0.8]), 4, replacement=True), "int64", (4,)),
    (lambda t: t.multinomial(t.ones(3, 5), 2), "int64", (3, 2)),
    (lambda t: t.normal(0.0, 1.0, (2, 2)), "float32", (2, 2)),
    (lambda t: t.bernoulli(t.full((3,), 0.5)), "float32", (3,)),
    (lambda t: t.logspace(0, 2, 3), "float32", (3,)),
])
def test_factories_match_torch_dtype_and_shape(call, dtype: str, shape: tuple) -> None:
    want = call(real)
    got = call(ct)
    assert str(want.dtype) == f"torch.{dtype}"
    assert tuple(want.shape) == shape
    assert got.dtype == np.dtype(dtype)
    assert tuple(got.shape) == shape


_FACTORIES = (lambda **k: ct.zeros(2, **k), lambda **k: ct.randn(2, **k),
              lambda **k: ct.tensor([1.0], **k), lambda **k: ct.arange(3.0, **k),
              lambda **k: ct.full((2,), 1.0, **k), lambda **k: ct.ones_like(ct.ones(2), **k),
              lambda **k: ct.linspace(0, 1, 3, **k), lambda **k: ct.eye(2, **k),
              lambda **k: ct.randint(0, 3, (2,), **k), lambda **k: ct.randperm(3, **k),
              lambda **k: ct.normal(0.0, 1.0, (2,), **k))


def test_factories_take_device_and_requires_grad() -> None:
    for make in _FACTORIES:
        t = make(device=ct.device("cpu"))
        assert t.device == ct.device("cpu")  # whatever the default device
    for make in _FACTORIES[:8]:
        t = make(device=ct.device("cpu"), requires_grad=True)
        assert t.requires_grad
        assert t.is_leaf


@needs_no_cuda
def test_factories_name_a_missing_device() -> None:
    for make in _FACTORIES:
        with pytest.raises(RuntimeError, match="not available"):
            make(device="cuda")


@cpu_only  # from_numpy and as_tensor share a host ndarray's memory
def test_tensor_copies_from_numpy_shares() -> None:
    a = np.zeros(3, np.float32)
    ct.tensor(a)[0] = 1.0
    assert a[0] == 0.0
    ct.from_numpy(a)[0] = 2.0
    assert a[0] == 2.0
    assert ct.as_tensor(a).numpy() is a


def test_legacy_types() -> None:
    assert isinstance(ct.zeros(2), ct.FloatTensor)
    assert not isinstance(ct.zeros(2), ct.LongTensor)
    assert ct.ones(2).type(ct.LongTensor).dtype == ct.long
    assert ct.ones(2).type() == "torch.FloatTensor"


@needs_no_cuda
def test_devices_are_cpu_only() -> None:
    assert not ct.cuda.is_available()
    assert ct.cuda.device_count() == 0
    assert not ct.accelerator.is_available()
    assert ct.accelerator.current_accelerator() is None
    assert not ct.backends.mps.is_available()
    ct.backends.cudnn.benchmark = True
    ct.backends.cudnn.deterministic = True
    assert ct.backends.cudnn.benchmark
    dev = ct.device("cuda" if ct.cuda.is_available() else "cpu")
    assert str(dev) == "cpu"
    with pytest.raises(RuntimeError, match="cuda:0"):
        ct.ones(2).to("cuda:0")
    with pytest.raises(RuntimeError, match="not available"):
        ct.cuda.current_device()


def test_manual_seed_and_generators_reproduce() -> None:
    ct.manual_seed(3)
    a = ct.randn(4)
    ct.manual_seed(3)
    assert np.array_equal(a.cpu().numpy(), ct.randn(4).cpu().numpy())
    assert ct.initial_seed() == 3
    g1, g2 = ct.Generator().manual_seed(5), ct.Generator().manual_seed(5)
    assert np.array_equal(ct.randperm(10, generator=g1).cpu().numpy(),
                          ct.randperm(10, generator=g2).cpu().numpy())
    state = ct.get_rng_state()
    b = ct.rand(3)
    ct.set_rng_state(state)
    assert np.array_equal(b.cpu().numpy(), ct.rand(3).cpu().numpy())
    w = ct.empty(3, 4)
    ct.nn.init.normal_(w, generator=ct.Generator().manual_seed(1))
    w2 = ct.empty(3, 4)
    ct.nn.init.normal_(w2, generator=ct.Generator().manual_seed(1))
    assert np.array_equal(w.cpu().numpy(), w2.cpu().numpy())


def test_grad_modes() -> None:
    x = ct.ones(2, requires_grad=True)
    with ct.no_grad():
        assert not (x * 2).requires_grad
    with ct.inference_mode():
        assert not (x * 2).requires_grad

    @ct.no_grad
    def bare(v: ct.Tensor) -> ct.Tensor:
        return v * 2

    @ct.no_grad()
    def called(v: ct.Tensor) -> ct.Tensor:
        return v * 2

    assert not bare(x).requires_grad
    assert not called(x).requires_grad
    assert (x * 2).requires_grad


@pytest.mark.parametrize(("module", "name"), [
    ("chainrule.torch", "compile"),
    ("chainrule.torch", "fft"),
    ("chainrule.torch.nn", "NotALayer"),
    ("chainrule.torch.nn.functional", "not_a_function"),
    ("chainrule.torch.optim", "NotAnOptimizer"),
    ("chainrule.torch.utils.data", "NotALoader"),
    ("chainrule.torch.cuda", "amp"),
])
def test_unknown_name_says_so(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    qual = f"{module.removeprefix('chainrule.torch').lstrip('.')}.{name}".lstrip(".")
    with pytest.raises(AttributeError, match=f"chainrule.torch has no '{qual}' yet"):
        getattr(mod, name)
    assert not hasattr(mod, name)


def test_submodules_reexport_chainrule() -> None:
    assert ct.nn.Linear is cr.nn.Linear
    assert ct.nn.Module is cr.nn.Module
    assert ct.optim.SGD is cr.optim.SGD
    assert ct.optim.lr_scheduler.StepLR is cr.optim.lr_scheduler.StepLR
    assert ct.utils.data.DataLoader is cr.data.DataLoader
    assert ct.nn.functional.cross_entropy is cr.nn.functional.cross_entropy
    assert isinstance(cr.ones(2), ct.Tensor)  # torch.Tensor also builds legacy tensors
    assert issubclass(cr.nn.Parameter, ct.Tensor)
    assert ct.Size is Size
    assert ct.nn.init.__name__ == "chainrule.torch.nn.init"
    assert ct.optim.lr_scheduler.__name__ == "chainrule.torch.optim.lr_scheduler"
    assert ct.return_types.max(1, 2).indices == 2
    assert ct.nn.utils.clip_grad_norm_ is cr.nn.utils.clip_grad_norm_


def test_functional_pad_and_one_hot_match_torch() -> None:
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    for args in [((1, 2),), ((1, 0, 2, 1),), ((1, 1), "constant", 5.0)]:
        want = real.nn.functional.pad(real.from_numpy(x), *args).cpu().numpy()
        got = ct.nn.functional.pad(ct.from_numpy(x), *args).cpu().numpy()
        np.testing.assert_array_equal(got, want)
    idx = np.array([0, 2, 1])
    np.testing.assert_array_equal(ct.nn.functional.one_hot(ct.from_numpy(idx)).cpu().numpy(),
                                  real.nn.functional.one_hot(real.from_numpy(idx)).cpu().numpy())


def test_data_parallel_wraps_module() -> None:
    net = ct.nn.Linear(3, 2)
    dp = ct.nn.parallel.DataParallel(net)
    x = ct.randn(4, 3)
    np.testing.assert_allclose(dp(x).cpu().numpy(), net(x).cpu().numpy())
    assert set(dp.state_dict()) == {"module.weight", "module.bias"}
    if cuda_available():  # device 0 exists: the module still runs whole
        dp0 = ct.nn.parallel.DataParallel(net, device_ids=[0])
        np.testing.assert_allclose(dp0(x).cpu().numpy(), net(x).cpu().numpy())
        return
    with pytest.raises(RuntimeError, match="not available"):
        ct.nn.parallel.DataParallel(net, device_ids=[0])


def test_parameters_to_vector_round_trip() -> None:
    net = ct.nn.Linear(3, 2)
    vec = ct.nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (8,)
    ct.nn.utils.vector_to_parameters(vec * 0 + 1, net.parameters())
    assert float(net.weight.sum()) == 6.0


def test_save_load_round_trip(tmp_path) -> None:
    net = ct.nn.Linear(3, 2)
    ct.save(net.state_dict(), tmp_path / "w.pt")
    sd = ct.load(tmp_path / "w.pt", map_location="cpu")
    np.testing.assert_array_equal(np.asarray(sd["weight"]), net.weight.cpu().numpy())


def test_nn_modules_paths_and_safe_globals() -> None:
    import chainrule.nn as crnn
    import chainrule.torch as ctorch

    assert ctorch.nn.modules.rnn.LSTM is crnn.LSTM
    assert ctorch.nn.modules.linear.Linear is crnn.Linear
    assert issubclass(ctorch.nn.modules.linear.NonDynamicallyQuantizableLinear, crnn.Linear)
    with ctorch.serialization.safe_globals([crnn.LSTM]):
        assert crnn.LSTM in ctorch.serialization.get_safe_globals()
    assert crnn.LSTM not in ctorch.serialization.get_safe_globals()
