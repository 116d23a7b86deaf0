"""ResNet's basic block, with torchvision's submodule names so weights port both ways."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.containers import Sequential
from chainrule.nn.conv import Conv2d
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm2d
from chainrule.tensor import Tensor

__all__ = ["BasicBlock"]


class BasicBlock(Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), convs 3x3 without bias.

    The shortcut is the identity, or ``downsample`` = Sequential(1x1 conv with the block's
    stride, BatchNorm2d) when the stride is not 1 or the channel count changes (as torchvision's
    ResNet builds it). Pass ``downsample`` (a Module) to use another projection.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Module | None = None, dtype: Any = None) -> None:
        super().__init__()
        self.conv1 = Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False,
                            dtype=dtype)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.conv2 = Conv2d(planes, planes, 3, stride=1, padding=1, bias=False, dtype=dtype)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        if downsample is None and (stride != 1 or inplanes != planes):
            downsample = Sequential(
                Conv2d(inplanes, planes, 1, stride=stride, bias=False, dtype=dtype),
                BatchNorm2d(planes, dtype=dtype),
            )
        if downsample is not None:
            self.downsample = downsample
        else:
            self.add_module("downsample", None)
        self.stride = stride

    def forward(self, x: Any) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)
