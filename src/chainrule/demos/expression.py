"""A safe parser for scalar expressions of named inputs, such as ``log(x1) + x1*x2 - sin(x2)``.

Python's ``ast`` parses the text; only an allowlist of node types is accepted (names, numbers,
``+ - * / **``, unary minus and plus, and calls of chainrule's scalar functions by name). Nothing
is ever passed to ``eval``. Ops are evaluated by height in the tree (all ops on inputs first,
left to right), which numbers the AD survey's example exactly as its table does.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import chainrule as cr
from chainrule.tensor import Tensor

MAX_LENGTH = 500
MAX_NODES = 200

FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "log": cr.log, "ln": cr.log, "exp": cr.exp, "sin": cr.sin, "cos": cr.cos, "tan": cr.tan,
    "tanh": cr.tanh, "sigmoid": cr.sigmoid, "relu": cr.relu, "softplus": cr.softplus,
    "sqrt": cr.sqrt, "abs": cr.abs, "log1p": cr.log1p,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class ExpressionError(ValueError):
    """An expression the restricted parser refuses, with the reason."""


def _check(node: ast.AST) -> None:
    """Refuse any node outside the allowlist (raises ExpressionError naming it)."""
    if isinstance(node, ast.Expression):
        return _check(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"only numbers are allowed as constants, got {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(f"names may not start with '_': {node.id!r}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed "
                                  "(only + - * / **)")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ExpressionError(f"unary {type(node.op).__name__} is not allowed (only -, +)")
        _check(node.operand)
    elif isinstance(node, ast.Call):
        fn = node.func.id if isinstance(node.func, ast.Name) else None
        if fn not in FUNCTIONS:
            what = fn or ast.unparse(node.func)
            raise ExpressionError(f"call of {what!r} is not allowed; functions: "
                                  f"{', '.join(sorted(FUNCTIONS))}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ExpressionError(f"{fn}() takes exactly one positional argument")
        _check(node.args[0])
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression "
                              "(names, numbers, + - * / **, and function calls only)")


def _fold(fn: Callable[[], Any]) -> float:
    """A constant subexpression's value, refusing overflow, complex results and 1/0."""
    try:
        v = fn()
    except (OverflowError, ZeroDivisionError, ValueError) as e:
        raise ExpressionError(f"constant subexpression fails: {e}") from None
    v = float(v.item() if isinstance(v, Tensor) else v)
    if not math.isfinite(v):
        raise ExpressionError("constant subexpression is not finite")
    return v


@dataclass(frozen=True)
class Expression:
    """A parsed expression; call it with one Tensor per name in ``names`` (or a mapping)."""

    text: str
    names: tuple[str, ...]
    tree: ast.Expression

    def __call__(self, *inputs: Any) -> Tensor:
        """Evaluate with chainrule ops, by height in the tree (ties left to right)."""
        if len(inputs) != len(self.names):
            raise ExpressionError(f"expected {len(self.names)} inputs ({', '.join(self.names)})"
                                  f", got {len(inputs)}")
        env = dict(zip(self.names, inputs))
        heights: dict[int, int] = {}
        order: list[ast.AST] = []  # pre-order, for left-to-right ties

        def height(node: ast.AST) -> int:
            order.append(node)
            skip = ast.operator | ast.unaryop | ast.expr_context
            kids = [k for k in ast.iter_child_nodes(node) if not isinstance(k, skip)]
            if isinstance(node, ast.Call):
                kids = kids[1:]  # the function's name is not an operand
            h = 0 if not kids else 1 + max(height(k) for k in kids)
            heights[id(node)] = h
            return h

        height(self.tree.body)
        rank = {id(n): i for i, n in enumerate(order)}
        value: dict[int, Any] = {}
        for node in order:
            if isinstance(node, ast.Name):
                value[id(node)] = env[node.id]
            elif isinstance(node, ast.Constant):
                value[id(node)] = float(node.value)
        for node in sorted((n for n in order if heights[id(n)] > 0),
                           key=lambda n: (heights[id(n)], rank[id(n)])):
            value[id(node)] = self._apply(node, value)
        out = value[id(self.tree.body)]
        if not isinstance(out, Tensor):
            raise ExpressionError("the expression uses no input")
        return out

    @staticmethod
    def _apply(node: ast.AST, value: dict[int, Any]) -> Any:
        """One op on already-computed operands; constants fold to Python floats."""
        if isinstance(node, ast.BinOp):
            a, b = value[id(node.left)], value[id(node.right)]
            op = _BINARY[type(node.op)]
            if isinstance(a, float) and isinstance(b, float):
                return _fold(lambda: math.pow(a, b) if isinstance(node.op, ast.Pow) else op(a, b))
            return op(a, b)
        if isinstance(node, ast.UnaryOp):
            a = value[id(node.operand)]
            if isinstance(node.op, ast.UAdd):
                return a
            return -a
        assert isinstance(node, ast.Call)
        assert isinstance(node.func, ast.Name)
        fn = FUNCTIONS[node.func.id]
        a = value[id(node.args[0])]
        if isinstance(a, float):
            return _fold(lambda: fn(cr.tensor(a, dtype=cr.float64)))
        return fn(a)


def parse(text: str) -> Expression:
    """Parse ``text`` under the allowlist; raises ExpressionError saying what was refused."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"cannot parse {text!r}: {e}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} syntax nodes")
    _check(tree)
    names = dict.fromkeys(n.id for n in nodes if isinstance(n, ast.Name)
                          and not any(isinstance(c, ast.Call) and c.func is n for c in nodes))
    return Expression(text.strip(), tuple(names), tree)


def parse_at(spec: str) -> dict[str, float]:
    """``"x1=2,x2=5"`` as an ordered mapping of names to floats."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, eq, num = item.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise ExpressionError(f"--at expects NAME=VALUE pairs separated by commas, "
                                  f"got {item!r}")
        try:
            out[name] = float(num)
        except ValueError:
            raise ExpressionError(f"--at: {num.strip()!r} is not a number") from None
    return out


def bind(expr: Expression, at: Mapping[str, float]) -> tuple[list[str], list[Tensor]]:
    """Input names (in ``at``'s order) and float64 values for evaluating ``expr``."""
    missing = [n for n in expr.names if n not in at]
    if missing:
        raise ExpressionError(f"no value for {', '.join(missing)}: give it with --at, e.g. "
                              f"--at {','.join(f'{n}=1' for n in expr.names)}")
    unused = [n for n in at if n not in expr.names]
    if unused:
        raise ExpressionError(f"{', '.join(unused)} given but not used by {expr.text!r}")
    names = list(at)
    return names, [cr.tensor(at[n], dtype=cr.float64) for n in names]


def as_function(expr: Expression, names: list[str]) -> Callable[..., Tensor]:
    """``expr`` as a function of its inputs in the order of ``names``."""
    pos = [names.index(n) for n in expr.names]

    def f(*xs: Tensor) -> Tensor:
        return expr(*(xs[i] for i in pos))

    return f
