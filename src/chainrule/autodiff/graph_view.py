"""PyTorch's view of the graph: ``t.grad_fn`` and its ``next_functions``."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class GradFn:
    """The recorded node that produced a tensor, named as PyTorch names it (``MulBackward``)."""

    __slots__ = ("_node",)

    def __init__(self, node: Any) -> None:
        self._node = node

    def name(self) -> str:
        """The op's name followed by ``Backward`` (``MulBackward``)."""
        op = self._node.op
        base = getattr(op, "__name__", type(op).__name__)
        return f"{base}Backward"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """One (node, 0) pair per input: a GradFn, an AccumulateGrad for a leaf, or None."""
        args = self._node.args
        if args is None:
            return ()
        res = []
        for a in args:
            if not isinstance(a, Tensor) or not a.requires_grad:
                res.append((None, 0))
            elif a._node is None:
                res.append((AccumulateGrad(a), 0))
            else:
                res.append((GradFn(a._node), 0))
        return tuple(res)

    @property
    def metadata(self) -> dict:
        return {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GradFn) and other._node is self._node

    def __hash__(self) -> int:
        return id(self._node)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self._node):#x}>"


class AccumulateGrad:
    """The end of a path in the graph: a leaf's ``.grad`` accumulator, as PyTorch's."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions: tuple = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self.variable):#x}>"
