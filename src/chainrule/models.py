"""The model zoo: builders by name, used by `chainrule train`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule import nn
from chainrule.tensor import Tensor

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
    "silu": nn.SiLU, "mish": nn.Mish, "softplus": nn.Softplus, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "noisy_relu": nn.NoisyReLU,
}


def _activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of ACTIVATIONS)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...] = (128,),
        dropout: float = 0.0, activation: str = "relu") -> nn.Module:
    """Flatten -> (Linear -> activation [-> Dropout]) per hidden size -> Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = int(np.prod(input_shape))
    for h in hidden:
        layers += [nn.Linear(width, h), _activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def _flat_size(features: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Number of features the convolutional trunk produces for one input of input_shape."""
    import chainrule as cr

    with cr.no_grad():
        out = features(cr.zeros((1, *input_shape)))
    return int(np.prod(out.shape[1:]))


def lenet5(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """LeNet-5 (ReLU and max-pool variant): conv 6@5x5 (pad 2), pool, conv 16@5x5, pool,
    fc 120, fc 84, fc classes.

    Inputs under 20 pixels (the 8x8 digits) have no room for two 5x5 stages: they use 3x3
    kernels (padding 1), a single pooling stage and dropout 0.3 before the two hidden layers.
    """
    c, h = input_shape[0], input_shape[-1]
    if h >= 20:
        features = nn.Sequential(
            nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        p = 0.0
    else:
        features = nn.Sequential(
            nn.Conv2d(c, 6, 3, padding=1), nn.ReLU(),
            nn.Conv2d(6, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        p = 0.3

    def drop() -> list[nn.Module]:
        return [nn.Dropout(p)] if p else []

    n = _flat_size(features, input_shape)
    return nn.Sequential(
        *features, nn.Flatten(),
        *drop(), nn.Linear(n, 120), nn.ReLU(), *drop(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


def resnet(input_shape: tuple[int, ...], num_classes: int, widths: tuple[int, ...] = (16, 32, 64),
           blocks: int = 1) -> nn.Module:
    """A small ResNet for 28x28 or 32x32 inputs: a 3x3 stem, one stage of BasicBlocks per
    width (stride 2 from the second stage on), global average pooling and a linear head."""
    layers: list[nn.Module] = [nn.Conv2d(input_shape[0], widths[0], 3, padding=1, bias=False),
                               nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for i, w in enumerate(widths):
        for j in range(blocks):
            layers.append(nn.BasicBlock(cin, w, stride=2 if i > 0 and j == 0 else 1))
            cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


class RowReader(nn.Module):
    """Reads an image row by row with a recurrent layer; classifies from the last state."""

    def __init__(self, cell: str, input_shape: tuple[int, ...], num_classes: int,
                 hidden: int = 128) -> None:
        super().__init__()
        rows, cols = input_shape[-2], input_shape[-1]
        self.rows, self.cols = rows, cols * (input_shape[0] if len(input_shape) == 3 else 1)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = rnn(self.cols, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        seq = x.reshape(x.shape[0], self.rows, self.cols)
        out, _ = self.rnn(seq)
        return self.head(out[:, -1])


def lstm_classifier(input_shape: tuple[int, ...], num_classes: int, hidden: int = 128
                    ) -> nn.Module:
    """An LSTM reading the image row by row, then a linear head on the last hidden state."""
    return RowReader("lstm", input_shape, num_classes, hidden)


def gru_classifier(input_shape: tuple[int, ...], num_classes: int, hidden: int = 128
                   ) -> nn.Module:
    """A GRU reading the image row by row, then a linear head on the last hidden state."""
    return RowReader("gru", input_shape, num_classes, hidden)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp, "lenet5": lenet5, "resnet": resnet, "lstm": lstm_classifier,
    "gru": gru_classifier,
}


def build(name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs: object
          ) -> nn.Module:
    """The model called name for inputs of input_shape (one sample) and num_classes outputs."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](tuple(input_shape), num_classes, **kwargs)
