"""chainrule.nn: modules, layers, activations, losses, initializers (PyTorch's names)."""

from chainrule.nn.module import Module, Parameter  # isort: skip
from chainrule.nn import functional, init, utils
from chainrule.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    NoisyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from chainrule.nn.containers import Identity, ModuleDict, ModuleList, Residual, Sequential
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Embedding, Flatten, Linear
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    EuclideanLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
)
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "ELU", "GELU", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "CrossEntropyLoss", "Dropout", "Embedding", "EuclideanLoss", "Flatten", "HuberLoss",
    "Identity", "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleDict", "ModuleList", "MultiMarginLoss", "NLLLoss", "NoisyReLU", "Parameter", "ReLU",
    "Residual", "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "functional", "init",
    "utils",
]
