"""The model zoo: builders by name, used by `chainrule train`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule import nn


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...] = (128,),
        dropout: float = 0.0) -> nn.Module:
    """Flatten -> (Linear -> ReLU [-> Dropout]) per hidden size -> Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = int(np.prod(input_shape))
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": mlp}


def build(name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs: object
          ) -> nn.Module:
    """The model called name for inputs of input_shape (one sample) and num_classes outputs."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](tuple(input_shape), num_classes, **kwargs)
