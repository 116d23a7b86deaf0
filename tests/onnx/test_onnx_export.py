"""Export: onnx.checker passes and onnxruntime matches chainrule at two batch sizes."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_helpers import TOL, export_bytes, max_diff, run_cr, run_ort

import chainrule as cr
import chainrule.onnx as cro
from chainrule import models, nn
from chainrule.tensor import Tensor

ZOO = {"mlp": {"hidden": (32,)}, "lenet5": {}, "resnet": {"widths": (4, 8)},
       "lstm": {"hidden": 16}, "gru": {"hidden": 16}}


def _check(model: nn.Module, shape: tuple[int, ...], rng: np.random.Generator,
           dtype: type = np.float32) -> None:
    x = rng.standard_normal((3, *shape)).astype(dtype)
    data = export_bytes(model, x)
    for batch in (3, 5):
        xb = rng.standard_normal((batch, *shape)).astype(dtype)
        assert max_diff(run_ort(data, xb), run_cr(model, xb)) < TOL
        back = cro.load(io.BytesIO(data))  # chainrule's own export round-trips
        assert max_diff(run_cr(back, xb), run_cr(model, xb)) < TOL


def _trained_bn(model: nn.Module, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    """A few training-mode passes so BatchNorm's running statistics are not the defaults."""
    model.train()
    with cr.no_grad():
        for _ in range(3):
            model(cr.tensor(rng.standard_normal((8, *shape)).astype(np.float32)))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_exports(name: str, rng: np.random.Generator) -> None:
    shape = (1, 8, 8)
    model = models.build(name, shape, 10, **ZOO[name])
    _trained_bn(model, shape, rng)
    _check(model, shape, rng)


class Rows(nn.Module):
    """A recurrent layer over (N, T, F) inputs; returns its output sequence."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: Tensor) -> Tensor:
        return self.rnn(x)[0]


class Lookup(nn.Module):
    """Embedding of integer ids, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, ids: Tensor) -> Tensor:
        return self.fc(self.emb(ids))


LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "linear": (lambda: nn.Sequential(nn.Linear(6, 4)), (6,)),
    "linear3d": (lambda: nn.Sequential(nn.Linear(6, 4)), (2, 6)),
    "conv1d": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=1)),
               (3, 9)),
    "conv2d_groups": (lambda: nn.Sequential(nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2)),
                      (4, 7, 7)),
    "maxpool1d": (lambda: nn.Sequential(nn.MaxPool1d(3, 2, padding=1)), (2, 9)),
    "maxpool2d_ceil": (lambda: nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), (2, 5, 5)),
    "avgpool1d": (lambda: nn.Sequential(nn.AvgPool1d(3, 2)), (2, 9)),
    "avgpool2d_pad": (lambda: nn.Sequential(nn.AvgPool2d(3, 2, padding=1)), (2, 6, 6)),
    "avgpool2d_nopad": (lambda: nn.Sequential(nn.AvgPool2d(3, 2, padding=1,
                                                          count_include_pad=False)), (2, 6, 6)),
    "adaptive_global": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1)), (2, 5, 5)),
    "adaptive_2x3": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d((2, 3))), (2, 5, 7)),
    "batchnorm1d": (lambda: nn.Sequential(nn.BatchNorm1d(5)), (5,)),
    "batchnorm2d": (lambda: nn.Sequential(nn.BatchNorm2d(3)), (3, 4, 4)),
    "layernorm": (lambda: nn.Sequential(nn.LayerNorm((3, 4))), (3, 4)),
    "dropout": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), (4,)),
    "flatten": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 4)),
    "relu": (lambda: nn.Sequential(nn.ReLU()), (5,)),
    "leaky_relu": (lambda: nn.Sequential(nn.LeakyReLU(0.2)), (5,)),
    "sigmoid": (lambda: nn.Sequential(nn.Sigmoid()), (5,)),
    "tanh": (lambda: nn.Sequential(nn.Tanh()), (5,)),
    "softplus": (lambda: nn.Sequential(nn.Softplus(beta=2.0)), (5,)),
    "gelu": (lambda: nn.Sequential(nn.GELU()), (5,)),
    "gelu_tanh": (lambda: nn.Sequential(nn.GELU(approximate="tanh")), (5,)),
    "elu": (lambda: nn.Sequential(nn.ELU(0.7)), (5,)),
    "softmax": (lambda: nn.Sequential(nn.Softmax(1)), (5,)),
    "log_softmax": (lambda: nn.Sequential(nn.LogSoftmax(-1)), (2, 5)),
    "rnn_relu_bidir_2layer": (lambda: Rows(nn.RNN(3, 4, num_layers=2, nonlinearity="relu",
                                                  batch_first=True, bidirectional=True)),
                              (5, 3)),
    "lstm_bidir": (lambda: Rows(nn.LSTM(3, 4, batch_first=True, bidirectional=True)), (5, 3)),
    "gru_seq_first": (lambda: Rows(nn.GRU(3, 4)), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports(name: str, rng: np.random.Generator) -> None:
    build, shape = LAYERS[name]
    cr.manual_seed(0)
    model = build()
    if "batchnorm" in name:
        _trained_bn(model, shape, rng)
    if name == "gru_seq_first":  # sequence-first: the batch axis is 1, so export it static
        x = rng.standard_normal((4, *shape)).astype(np.float32)
        buf = io.BytesIO()
        cro.export(model, x, buf)
        assert max_diff(run_ort(buf.getvalue(), x), run_cr(model, x)) < TOL
        return
    _check(model, shape, rng)


def test_embedding_exports_as_gather(rng: np.random.Generator) -> None:
    model = Lookup()
    ids = rng.integers(0, 20, (3, 4))
    data = export_bytes(model, ids)
    import onnx

    assert "Gather" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    for batch in (3, 6):
        x = rng.integers(0, 20, (batch, 4))
        assert max_diff(run_ort(data, x), run_cr(model, x)) < TOL
        assert max_diff(run_cr(cro.load(io.BytesIO(data)), x), run_cr(model, x)) < TOL


def test_initializers_named_after_state_dict(rng: np.random.Generator) -> None:
    import onnx

    model = models.build("resnet", (1, 8, 8), 10, widths=(4, 8))
    data = export_bytes(model, rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    names = {i.name for i in onnx.load_from_string(data).graph.initializer}
    wanted = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert wanted <= names


def test_unsupported_op_is_named(tmp_path: object) -> None:
    class Cumulative(cr.Function):
        @staticmethod
        def forward(ctx: object, x: np.ndarray) -> np.ndarray:
            return np.cumsum(x, axis=-1)

    class M(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return Cumulative.apply(x)

    with pytest.raises(cro.UnsupportedOpError, match="Cumulative"):
        cro.export(M(), np.ones((2, 3), np.float32), io.BytesIO())


def test_torch_namespace_export_is_chainrule_export() -> None:
    import chainrule.torch as torch

    assert torch.onnx.export is cro.export
