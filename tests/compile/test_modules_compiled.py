"""Layers under cr.compile: a step through each, recorded on one input and replayed on another,
gives eager's loss, input gradient and parameter gradients bit for bit, or runs eagerly with a
warning. Training-mode layers (BatchNorm, Dropout) run from one seed both ways."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.compile import CompileWarning

IMAGE = (2, 3, 8, 8)
SEQ = (2, 5, 6)  # batch, time, features

LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "conv2d stride pad": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), IMAGE),
    "conv2d groups dilation": (lambda: nn.Conv2d(3, 6, 3, groups=3, dilation=2), IMAGE),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1), IMAGE),
    "conv1d": (lambda: nn.Conv1d(5, 4, 3, padding="same"), (2, 5, 7)),
    "max_pool2d": (lambda: nn.MaxPool2d(2), IMAGE),
    "max_pool2d overlapping": (lambda: nn.MaxPool2d(3, stride=2, padding=1), IMAGE),
    "avg_pool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), IMAGE),
    "avg_pool2d per-window divisors": (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                            count_include_pad=False), IMAGE),
    "max_pool2d return_indices": (lambda: _First(nn.MaxPool2d(3, 2, 1, return_indices=True)),
                                  IMAGE),
    "adaptive_avg_pool2d": (lambda: nn.AdaptiveAvgPool2d((3, 2)), IMAGE),
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), IMAGE),
    "batch_norm2d no affine": (lambda: nn.BatchNorm2d(3, affine=False), IMAGE),
    "batch_norm3d": (lambda: nn.BatchNorm3d(2), (2, 2, 3, 4, 3)),
    "layer_norm": (lambda: nn.LayerNorm(6), SEQ),
    "layer_norm no affine": (lambda: nn.LayerNorm(6, elementwise_affine=False), SEQ),
    "group_norm": (lambda: nn.GroupNorm(3, 6), (2, 6, 4, 3)),
    "group_norm no affine": (lambda: nn.GroupNorm(1, 5, affine=False), SEQ),
    "instance_norm2d running": (lambda: nn.InstanceNorm2d(3, affine=True,
                                                          track_running_stats=True), IMAGE),
    "instance_norm1d": (lambda: nn.InstanceNorm1d(5), SEQ),
    "instance_norm1d eval": (lambda: nn.InstanceNorm1d(5, affine=True,
                                                       track_running_stats=True).eval(), SEQ),
    "local_response_norm": (lambda: nn.LocalResponseNorm(3, alpha=0.5), IMAGE),
    "rms_norm": (lambda: nn.RMSNorm(6), SEQ),
    "rms_norm no affine": (lambda: nn.RMSNorm((5, 6), elementwise_affine=False), SEQ),
    "dropout": (lambda: nn.Dropout(0.3), SEQ),
    "dropout2d": (lambda: nn.Dropout2d(0.5), IMAGE),
    "prelu": (lambda: nn.PReLU(3), IMAGE),
    "softmax": (lambda: nn.Softmax(dim=-1), SEQ),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), SEQ),
    "gelu tanh": (lambda: nn.GELU("tanh"), SEQ),
    "elu": (lambda: nn.ELU(0.7), SEQ),
    "hardswish": (lambda: nn.Hardswish(), SEQ),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), SEQ),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.5), SEQ),
    "relu6": (lambda: nn.ReLU6(), SEQ),
    "upsample nearest": (lambda: nn.Upsample(scale_factor=2), IMAGE),
    "upsample bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), IMAGE),
    "pixel_shuffle": (lambda: nn.PixelShuffle(2), (2, 8, 3, 3)),
    "flatten linear": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(30, 4)), SEQ),
    "lstm bidirectional 2 layers": (
        lambda: _First(nn.LSTM(6, 4, num_layers=2, bidirectional=True, batch_first=True)), SEQ),
    "gru": (lambda: _First(nn.GRU(6, 5, batch_first=True)), SEQ),
    "rnn relu": (lambda: _First(nn.RNN(6, 5, nonlinearity="relu", batch_first=True)), SEQ),
    "multihead_attention": (lambda: _SelfAttention(nn.MultiheadAttention(6, 2,
                                                                         batch_first=True)), SEQ),
    "transformer encoder layer": (lambda: nn.TransformerEncoderLayer(
        6, 2, dim_feedforward=8, dropout=0.1, batch_first=True), SEQ),
    "adaptive_max_pool2d": (lambda: nn.AdaptiveMaxPool2d((3, 5)), IMAGE),
    "adaptive_max_pool1d indices": (lambda: _First(nn.AdaptiveMaxPool1d(4, True)), SEQ),
    "lp_pool2d": (lambda: nn.LPPool2d(2, 3, stride=2, ceil_mode=True), IMAGE),
    "lp_pool1d": (lambda: nn.LPPool1d(1.5, 2), SEQ),
    "max_unpool2d": (lambda: _PoolUnpool(), IMAGE),
    "bilinear": (lambda: _Pair(nn.Bilinear(6, 3, 4)), SEQ),
    "hardshrink": (lambda: nn.Hardshrink(0.7), SEQ),
    "softshrink": (lambda: nn.Softshrink(0.7), SEQ),
    "softmax2d": (lambda: nn.Softmax2d(), IMAGE),
    "channel_shuffle": (lambda: nn.ChannelShuffle(3), (2, 6, 4, 4)),
    "parameter list and dict": (lambda: _Containers(), SEQ),
    "multilabel_soft_margin_loss": (lambda: _LossOf(nn.MultiLabelSoftMarginLoss(
        cr.tensor(np.linspace(0.5, 2, 6)), reduction="none"), cr.tensor(_LABELS * 1.0)), SEQ),
    "multilabel_margin_loss": (lambda: _LossOf(nn.MultiLabelMarginLoss(reduction="none"),
                                               cr.tensor(_CLASSES)), (5, 6)),
}

_LABELS = (np.arange(60).reshape(2, 5, 6) % 3 == 0)
_CLASSES = np.array([[0, 5, -1, 1, 1, 1], [2, 2, 3, 4, 5, -1], [-1, 0, 0, 0, 0, 0],
                     [1, 0, 5, 4, 3, 2], [3, -1, 9 % 6, 0, 0, 0]])


class _First(nn.Module):
    """A recurrent layer's output sequence."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.rnn(x)[0]


class _SelfAttention(nn.Module):
    def __init__(self, mha: nn.Module) -> None:
        super().__init__()
        self.mha = mha

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.mha(x, x, x)[0]


class _PoolUnpool(nn.Module):
    """Max pooling with indices, then unpooling to the input's size."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)
        self.unpool = nn.MaxUnpool2d(3, stride=2, padding=1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        y, idx = self.pool(x)
        return self.unpool(y, idx, output_size=x.shape)


class _Pair(nn.Module):
    """A two-input layer on (x, the first half of x's features)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.layer(x, x[..., : x.shape[-1] // 2])


class _Containers(nn.Module):
    """Parameters held in a ParameterList and a ParameterDict."""

    def __init__(self) -> None:
        super().__init__()
        self.ws = nn.ParameterList([cr.randn(6), cr.randn(6)])
        self.bs = nn.ParameterDict({"b": cr.randn(6)})

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return x * self.ws[0] * self.ws[1] + self.bs["b"]


class _LossOf(nn.Module):
    """A loss of the input against a fixed target (a captured Tensor)."""

    def __init__(self, loss: nn.Module, target: cr.Tensor) -> None:
        super().__init__()
        self.loss = loss
        self.target = target

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.loss(x, self.target)


def _step(model: nn.Module, w: np.ndarray) -> Any:
    w = cr.tensor(w)  # a captured Tensor: read live on replay (an ndarray would send it eager)

    def step(x: cr.Tensor) -> cr.Tensor:
        model.zero_grad()
        y = model(x)
        loss = (y * y * w).sum()
        loss.backward()
        return loss

    return step


def _run(model: nn.Module, step: Any, x: np.ndarray) -> list[np.ndarray]:
    xt = cr.tensor(x, requires_grad=True)
    loss = step(xt)
    return [np.array(loss._data), np.array(xt.grad._data)] + [
        np.array(p.grad._data) for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("name", list(LAYERS))
def test_compiled_layer_matches_eager_on_new_inputs(name: str) -> None:
    make, shape = LAYERS[name]
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = make().double()
        with cr.no_grad():
            w = rng.standard_normal(model(cr.tensor(x1)).shape) if not runs else runs[0][0]
        cr.manual_seed(1)
        step = _step(model, w)
        fn = cr.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompileWarning)  # running eagerly is honest
            out = [_run(model, fn, x1), _run(model, fn, x2)]
        runs.append((w, out))
    for want, got in zip(runs[0][1], runs[1][1], strict=True):
        assert len(want) == len(got)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(b, a, err_msg=name)


REPLAYED = ["batch_norm2d no affine", "batch_norm3d", "layer_norm no affine", "group_norm",
            "group_norm no affine", "instance_norm2d running", "instance_norm1d",
            "instance_norm1d eval", "local_response_norm", "rms_norm", "rms_norm no affine"]


@pytest.mark.parametrize("name", REPLAYED)
def test_normalization_layer_replays_instead_of_running_eagerly(name: str) -> None:
    """Their statistics (and the ones and zeros standing in for absent affine parameters) are
    recorded, so the step replays: no CompileWarning."""
    make, shape = LAYERS[name]
    rng = np.random.default_rng(4)
    model = make().double()
    step = cr.compile(_step(model, rng.standard_normal(shape)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(3):
            _run(model, step, rng.standard_normal(shape))
