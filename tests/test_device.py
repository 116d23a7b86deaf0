"""Device plumbing, on the CuPy test double (tests/fake_cupy.py): no GPU needed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import backend


def test_import_does_not_import_cupy() -> None:
    import subprocess

    code = "import chainrule, sys; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_without_cupy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    assert not cr.cuda.is_available()
    assert cr.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"chainrule\[cuda\]"):
        cr.ones(2, device="cpu").to("cuda")
    assert cr.ones(2, device="cpu").to("cpu").device == cr.device("cpu")


def test_device_attributes_and_moves(fake_cuda: object) -> None:
    assert cr.cuda.is_available()
    assert cr.cuda.device_count() == 2
    x = cr.tensor([1.0, 2.0])
    assert x.device == cr.device("cpu")
    assert not x.is_cuda
    y = x.cuda()
    assert y.device == cr.device("cuda:0")
    assert y.is_cuda
    assert backend.is_device_array(y._data)
    assert x.to("cuda:1").device == cr.device("cuda", 1)
    assert y.cpu().device == cr.device("cpu")
    np.testing.assert_array_equal(y.cpu().numpy(), [1.0, 2.0])
    assert y.to("cuda") is y
    assert "device='cuda:0'" in repr(y)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        x.to("cuda:7")


def test_numpy_of_a_cuda_tensor_says_cpu_first(fake_cuda: object) -> None:
    y = cr.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        y.numpy()
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        np.asarray(y)
    np.testing.assert_array_equal(y.numpy(force=True), np.ones(3, np.float32))
    assert y.sum().item() == 3.0


def test_mixing_devices_names_both(fake_cuda: object) -> None:
    with pytest.raises(RuntimeError, match=r"cuda:0 and cpu"):
        cr.ones(3, device="cuda") + cr.ones(3)
    with pytest.raises(RuntimeError, match=r"cpu and cuda:0"):
        cr.matmul(cr.ones((2, 2)), cr.ones((2, 2), device="cuda"))


def test_factories_and_seeding(fake_cuda: object) -> None:
    for t in (cr.zeros(2, 3, device="cuda"), cr.full((2,), 1.5, device="cuda"),
              cr.arange(4, device="cuda"), cr.eye(3, device="cuda"),
              cr.randint(0, 5, (4,), device="cuda")):
        assert t.is_cuda
    cr.manual_seed(3)
    a = cr.randn(5, device="cuda").cpu().numpy()
    cr.manual_seed(3)
    b = cr.randn(5, device="cuda").cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert cr.rand(2, device="cuda").dtype == np.float32
    cr.set_default_device("cuda")
    assert cr.tensor(np.ones(2)).is_cuda
    assert cr.zeros(1).is_cuda
    cr.cuda.synchronize()


def test_to_is_differentiable(fake_cuda: object) -> None:
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    (w.cuda() * 3).sum().backward()
    assert w.grad.device == cr.device("cpu")
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_namespace_helpers(fake_cuda: object) -> None:
    cp = fake_cuda
    d = cp.asarray(np.zeros(3))
    assert backend.namespace(d) is cp
    assert backend.namespace(np.zeros(1)) is np
    assert backend.is_device_array(backend.like(1.0, d))
    backend.scatter_add(d, (np.array([0, 0, 2]),), 1.0)
    np.testing.assert_array_equal(backend.asnumpy(d), [2.0, 0.0, 1.0])
    h = np.zeros(3)
    backend.scatter_add(h, (np.array([1, 1]),), np.ones(2))
    np.testing.assert_array_equal(h, [0.0, 2.0, 0.0])
    with pytest.raises(TypeError):  # the double refuses what CuPy refuses
        np.add.at(d, [0], 1.0)


def test_mlp_step_and_checkpoint_round_trip(fake_cuda: object, tmp_path: object) -> None:
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to("cuda")
    opt = cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x, y = cr.randn(5, 4, device="cuda"), cr.tensor([0, 1, 2, 0, 1], device="cuda")
    F.cross_entropy(m(x), y).backward()
    opt.step()
    assert all(p.is_cuda and p.grad.is_cuda for p in m.parameters())
    path = tmp_path / "ckpt.safetensors"
    cr.save({"model": m.state_dict(), "optimizer": opt.state_dict()}, path)
    state = cr.load(path)
    cpu = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    cpu.load_state_dict(state["model"])
    for a, b in zip(cpu.parameters(), m.parameters()):
        assert a.device == cr.device("cpu")
        np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())
    back = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).cuda()
    back.load_state_dict(cr.load(path, map_location="cuda")["model"])
    for a, b in zip(back.parameters(), m.parameters()):
        assert a.is_cuda
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    np.testing.assert_allclose(back(x).cpu().numpy(), m(x).cpu().numpy())


def _twin(make: object) -> tuple[object, object]:
    """The same freshly built module twice: on the host and on the (fake) device."""
    cr.manual_seed(0)
    cpu = make()
    dev = make()
    dev.load_state_dict(cpu.state_dict())
    return cpu, dev.to("cuda")


def _train(model: object, opt: object, x: object, loss_fn: object, steps: int = 2) -> float:
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
    return loss.item()


def _same_training(make: object, x: np.ndarray, loss_fn: object,
                   opt: object = lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9)) -> None:
    """Training steps on the device give the host's parameters (the double runs on NumPy)."""
    cpu, dev = _twin(make)
    want = _train(cpu, opt(cpu.parameters()), cr.tensor(x), loss_fn)
    got = _train(dev, opt(dev.parameters()), cr.tensor(x).cuda(), loss_fn)
    assert got == pytest.approx(want, rel=1e-5)
    for (name, a), b in zip(cpu.named_parameters(), dev.parameters(), strict=True):
        assert b.is_cuda, name
        assert b.grad.is_cuda, name
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_lenet5_training_step(fake_cuda: object) -> None:
    def make() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(16 * 3 * 3, 12), nn.ReLU(), nn.Linear(12, 10))

    x = np.random.default_rng(0).random((3, 1, 20, 20), dtype=np.float32)
    y = cr.tensor([1, 7, 3])
    _same_training(make, x, lambda out: F.cross_entropy(out, y.to(out.device)))


def test_mlp_training_step_every_optimizer(fake_cuda: object) -> None:
    def make() -> nn.Module:
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.0), nn.Linear(8, 3))

    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    y = cr.tensor([0, 1, 2, 0, 1])
    for opt in (lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                        weight_decay=1e-2),
                lambda ps: cr.optim.Adam(ps, lr=1e-2, amsgrad=True),
                lambda ps: cr.optim.AdamW(ps, lr=1e-2),
                lambda ps: cr.optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
                lambda ps: cr.optim.Adagrad(ps, lr=1e-2),
                lambda ps: cr.optim.Adadelta(ps)):
        _same_training(make, x, lambda out: F.cross_entropy(out, y.to(out.device)), opt)


def test_lstm_training_step(fake_cuda: object) -> None:
    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 5, batch_first=True)
            self.norm = nn.LayerNorm(5)
            self.head = nn.Linear(5, 2)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            h, _ = self.lstm(x)
            return self.head(self.norm(h))

    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype(np.float32)
    _same_training(Tagger, x, lambda out: (out * out).mean(),
                   lambda ps: cr.optim.Adam(ps, lr=1e-2))


def test_layers_on_device(fake_cuda: object) -> None:
    rng = np.random.default_rng(3)
    seq = rng.standard_normal((2, 3, 4)).astype(np.float32)
    img = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    cases = [
        (lambda: nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 2, 3, stride=2), nn.Flatten()),
         img),
        (lambda: nn.Sequential(nn.ConvTranspose2d(3, 2, 3, stride=2), nn.AdaptiveAvgPool2d(2),
                               nn.Flatten()), img),
        (lambda: nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.BatchNorm1d(4), nn.MaxPool1d(2),
                               nn.Flatten()), seq),
        (lambda: nn.GRU(4, 3, batch_first=True), seq),
        (lambda: nn.RNN(4, 3, num_layers=2), seq),
        (lambda: nn.MultiheadAttention(4, 2, batch_first=True), seq),
        (lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                            batch_first=True), seq),
    ]
    for make, x in cases:
        def loss(out: object) -> cr.Tensor:
            out = out[0] if isinstance(out, tuple) else out
            return (out * out).sum()

        if make().__class__ is nn.MultiheadAttention:
            def make_mha(make: object = make) -> nn.Module:
                class SelfAttention(nn.Module):
                    def __init__(self) -> None:
                        super().__init__()
                        self.mha = make()

                    def forward(self, q: cr.Tensor) -> cr.Tensor:
                        return self.mha(q, q, q)[0]

                return SelfAttention()

            _same_training(make_mha, x, loss)
        else:
            _same_training(make, x, loss)


def test_losses_on_device(fake_cuda: object) -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.random((3, 4)).astype(np.float32)
    labels = np.array([0, 3, 1])
    for loss in (lambda p, t, i: F.mse_loss(p, t), lambda p, t, i: F.l1_loss(p, t),
                 lambda p, t, i: F.smooth_l1_loss(p, t), lambda p, t, i: F.huber_loss(p, t),
                 lambda p, t, i: F.binary_cross_entropy_with_logits(p, t),
                 lambda p, t, i: F.binary_cross_entropy(F.sigmoid(p), t),
                 lambda p, t, i: F.cross_entropy(p, i, label_smoothing=0.1),
                 lambda p, t, i: F.nll_loss(F.log_softmax(p, 1), i),
                 lambda p, t, i: F.kl_div(F.log_softmax(p, 1), t, reduction="batchmean")):
        want_p = cr.tensor(a, requires_grad=True)
        want = loss(want_p, cr.tensor(b), cr.tensor(labels))
        want.backward()
        got_p = cr.tensor(a).cuda().detach().requires_grad_()
        got = loss(got_p, cr.tensor(b).cuda(), cr.tensor(labels).cuda())
        got.backward()
        assert got.is_cuda
        assert got_p.grad.is_cuda
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)
        np.testing.assert_allclose(got_p.grad.cpu().numpy(), want_p.grad.numpy(), rtol=1e-5,
                                   atol=1e-7)


def test_optimizer_state_loads_onto_the_device(fake_cuda: object) -> None:
    cpu, dev = _twin(lambda: nn.Linear(3, 2))
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    opt_cpu = cr.optim.Adam(cpu.parameters(), lr=1e-2)
    _train(cpu, opt_cpu, cr.tensor(x), lambda out: (out * out).sum(), steps=1)
    dev.load_state_dict(cpu.state_dict())
    opt_dev = cr.optim.Adam(dev.parameters(), lr=1e-2)
    opt_dev.load_state_dict(opt_cpu.state_dict())
    for s in opt_dev.state.values():
        assert backend.is_device_array(s["exp_avg"])
        assert backend.is_device_array(s["exp_avg_sq"])
    _train(cpu, opt_cpu, cr.tensor(x), lambda out: (out * out).sum(), steps=1)
    _train(dev, opt_dev, cr.tensor(x).cuda(), lambda out: (out * out).sum(), steps=1)
    for a, b in zip(cpu.parameters(), dev.parameters()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-6)
    back = cr.optim.Adam(cpu.parameters(), lr=1e-2)
    back.load_state_dict(opt_dev.state_dict())  # device state onto host parameters
    for s in back.state.values():
        assert isinstance(s["exp_avg"], np.ndarray)


def test_masked_attention_and_index_methods_on_device(fake_cuda: object) -> None:
    rng = np.random.default_rng(6)
    q, k, v = (rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3))
    pad = np.array([[False, False, True], [False, True, True]])
    for kw in ({"is_causal": True}, {"attn_mask": ~pad[:, None, :]}):
        want = F.scaled_dot_product_attention(*(cr.tensor(a) for a in (q, k, v)), **kw)
        got = F.scaled_dot_product_attention(*(cr.tensor(a).cuda() for a in (q, k, v)), **kw)
        assert got.is_cuda
        np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    x = cr.tensor(q).cuda()
    idx = cr.tensor(np.array([[[0, 2, 1, 3]] * 3] * 2)).cuda()
    for got, want in ((x.gather(2, idx), cr.tensor(q).gather(2, idx.cpu())),
                      (x.topk(2, dim=-1).values, cr.tensor(q).topk(2, dim=-1).values),
                      (x.argmax(-1), cr.tensor(q).argmax(-1)),
                      (x.masked_fill(cr.tensor(pad[:, :, None]).cuda(), 0.0),
                       cr.tensor(q).masked_fill(cr.tensor(pad[:, :, None]), 0.0)),
                      (cr.zeros_like(x), cr.zeros_like(cr.tensor(q))),
                      (x.new_ones(2), cr.ones(2))):
        assert got.is_cuda
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def test_training_library_runs_on_device(fake_cuda: object, tmp_path: object) -> None:
    from chainrule.training import TrainConfig, train

    results = [train(TrainConfig(data="xor", hidden=(8,), epochs=1, batch_size=64, device=dev,
                                 progress=False, checkpoint_every=3, out=str(tmp_path / dev)),
                     log=lambda m: None)
               for dev in ("cpu", "cuda")]
    assert results[1].test_loss == pytest.approx(results[0].test_loss, rel=1e-5)
    assert (tmp_path / "cuda").exists()


def test_compile_on_cuda_tensors_runs_eagerly_with_one_warning(fake_cuda: object) -> None:
    from chainrule.compile import CompileWarning

    lin = nn.Linear(4, 3).to("cuda")

    def step(x: cr.Tensor) -> cr.Tensor:
        lin.zero_grad()
        loss = (lin(x) ** 2).sum()
        loss.backward()
        return loss

    compiled = cr.compile(step)
    x = cr.ones(2, 4, device="cuda")
    with pytest.warns(CompileWarning, match="on cuda"):
        got = compiled(x)
    assert got.device.type == "cuda"
    for _ in range(2):
        assert float(compiled(x).item()) == float(step(x).item())
    assert compiled.eager
    assert compiled.stats["replays"] == 0
