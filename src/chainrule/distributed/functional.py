"""Differentiable collectives (``torch.distributed.nn.functional``): they return new tensors.

The collectives of :mod:`chainrule.distributed.collectives` write in place and stop the graph;
these record an op instead. Every process calls them in the same order, in forward and, through
their rules, in backward: the rules are collectives too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autodiff.function import Context, Function
from chainrule.backend import move_like
from chainrule.distributed.collectives import ReduceOp, mpi_op, wait_all
from chainrule.distributed.process_group import ProcessGroup, default_group, mpi
from chainrule.distributed.staging import to_host
from chainrule.tensor import Tensor, as_operand

__all__ = ["all_reduce"]


def _summed(a: Any, group: ProcessGroup) -> np.ndarray:
    """A new array holding the elementwise sum of ``a`` over the group's processes (on a's
    device: a CUDA array is staged through a host copy)."""
    buf = to_host(a, copy=True)
    if group.size() > 1:
        req = group.comm.Iallreduce(mpi().IN_PLACE, buf, op=mpi_op(ReduceOp.SUM))
        wait_all([req], group.timeout, "all_reduce (differentiable)")
    return move_like(buf, a)


def _sum_over(v: Any, group: ProcessGroup) -> Any:
    """The process sum of a cotangent or tangent: recorded when it is a Tensor (higher order)."""
    if isinstance(v, Tensor):
        return AllReduceSum.apply(v, group)
    return _summed(v, group)


class AllReduceSum(Function):
    """y = sum over processes of x.  Reverse: the process sum of g (every process's output
    depends on every process's input).  Forward: the process sum of dx."""

    name = "all_reduce"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, group: ProcessGroup) -> np.ndarray:
        ctx.group = group
        return _summed(x, group)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return _sum_over(g, ctx.group)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return _sum_over(dx, ctx.group)


def all_reduce(tensor: Any, op: str = ReduceOp.SUM, group: ProcessGroup | None = None) -> Tensor:
    """The reduction of ``tensor`` over all processes, as a new tensor that gradients flow through.

    Differentiable for ``ReduceOp.SUM`` and ``ReduceOp.AVG`` (the gradient of a process's input
    is the process sum, or average, of the cotangents of every process's output).
    """
    g = default_group(group)
    x = as_operand(tensor)
    if op == ReduceOp.SUM:
        return AllReduceSum.apply(x, g)
    if op == ReduceOp.AVG:
        return AllReduceSum.apply(x, g) / g.size()
    raise ValueError(f"all_reduce (differentiable): op must be ReduceOp.SUM or ReduceOp.AVG, "
                     f"got {op!r}")
