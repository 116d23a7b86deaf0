"""ChannelShuffle: the channels regrouped as PyTorch's (N, g, C/g, ...) -> (N, C/g, g, ...)."""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.nn.module import Module
from chainrule.tensor import Tensor, as_operand

__all__ = ["ChannelShuffle", "channel_shuffle"]


def channel_shuffle(input: Any, groups: int) -> Tensor:
    """Split the C channels (axis 1) into groups of C/groups and interleave them: channel
    g * (C/groups) + k moves to k * groups + g (a reshape, a transpose and a reshape)."""
    x = input if isinstance(input, Tensor) else as_operand(input)
    if x.ndim < 3:
        raise ValueError(f"channel_shuffle: expected an input with more than 2 dimensions "
                         f"(N, C, *), got shape {x.shape}")
    if groups <= 0:
        raise ValueError(f"channel_shuffle: the number of groups to divide channels in must be "
                         f"positive, got groups={groups}")
    n, c = x.shape[:2]
    if c % groups:
        raise ValueError(f"channel_shuffle: the number of channels must be divisible by groups, "
                         f"got {c} channels and {groups} groups (input of shape {x.shape})")
    y = ops.reshape(x, (n, groups, c // groups, *x.shape[2:]))
    return ops.reshape(ops.swapaxes(y, 1, 2), x.shape)


class ChannelShuffle(Module):
    """Interleave the channels of (N, C, *) in groups."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
