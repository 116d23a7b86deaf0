"""Looking inside a recorded graph: Baydin et al.'s evaluation traces, and Graphviz DOT text.

Both read the graph reverse mode records (Context nodes in creation order); the trace's
derivative columns come from each op's own ``jvp`` and ``vjp`` rules, nothing is re-derived here.
The rules run where the graph's data lives (a CUDA device too); the values a trace reports are
host ndarrays, copied from the device.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import _name
from chainrule.autodiff.modes import enable_grad
from chainrule.autodiff.zero import ZERO
from chainrule.dtypes import as_array, get_default_dtype
from chainrule.tensor import Tensor

_DOT, _BAR = "\u0307", "\u0304"  # combining dot (tangent) and bar (adjoint)
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


# ----- the recorded graph -----
def _graph(out: Tensor, who: str) -> tuple[list[Any], dict[int, np.ndarray]]:
    """The nodes behind ``out`` in creation order, and each node's output value by id(node)."""
    values: dict[int, np.ndarray] = {}
    nodes: list[Any] = []
    stack = []
    if out._node is not None:
        values[id(out._node)] = out._data
        stack.append(out._node)
    while stack:
        node = stack.pop()
        nodes.append(node)
        if node.args is None:
            raise RuntimeError(
                f"{who}: the graph was freed by backward (op {_name(node.op)}); call {who} "
                "before backward, or pass retain_graph=True to backward"
            )
        for a in node.args:
            if isinstance(a, Tensor) and a._node is not None and id(a._node) not in values:
                values[id(a._node)] = a._data
                stack.append(a._node)
    nodes.sort(key=lambda n: n.seq)
    return nodes, values


# ----- formatting -----
def _num(v: Any) -> str:
    s = f"{float(v):.3f}"
    return "0.000" if s == "-0.000" else s


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _fmt(a: Any) -> str:
    """A value to 3 decimals; an array as its shape and a compact summary."""
    a = np.asarray(B.asnumpy(a))
    if a.size == 1:
        return _num(a.reshape(()))
    if a.size == 0:
        return f"[{_shape(a.shape)}]"
    if a.size <= 4:
        return f"[{_shape(a.shape)}] [{', '.join(_num(v) for v in a.ravel())}]"
    return (f"[{_shape(a.shape)}] mean {_num(a.mean())}, min {_num(a.min())}, "
            f"max {_num(a.max())}")


def _scalar(a: np.ndarray) -> str:
    """A one-element constant as written in an expression: 2, 0.5, True."""
    v = a.item()
    return f"{v:g}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def _accent(name: str, mark: str) -> str:
    return name[0] + mark + name[1:]


def _width(s: str) -> int:
    return sum(1 for ch in s if not unicodedata.combining(ch))


def _table(title: str, blocks: Sequence[Sequence[Sequence[str]]]) -> str:
    """Cells aligned in columns, blocks separated by a rule."""
    blocks = [b for b in blocks if b]
    rows = [r for b in blocks for r in b]
    ncol = max((len(r) for r in rows), default=0)
    widths = [max(_width(r[i]) for r in rows if i < len(r)) for i in range(ncol)]

    def line(row: Sequence[str]) -> str:
        cells = [c + " " * (widths[i] - _width(c)) for i, c in enumerate(row)]
        return ("  " + " ".join(cells)).rstrip()

    rule = "  " + "-" * max((_width(line(r)) - 2 for r in rows), default=0)
    out = [title]
    for k, b in enumerate(blocks):
        if k:
            out.append(rule)
        out.extend(line(r) for r in b)
    return "\n".join(out)


# ----- evaluation trace -----
@dataclass(frozen=True, eq=False)
class TraceRow:
    """One line of the primal or tangent trace: ``name = expr = value`` (value an ndarray)."""

    name: str
    expr: str
    value: np.ndarray


@dataclass(frozen=True, eq=False)
class AdjointRow:
    """One contribution of the adjoint trace: v̄target (+)= v̄source · ∂source/∂target.

    ``partial`` is ∂source/∂target (None when the source is not a scalar: then it is a
    Jacobian, applied by the op's vjp without being formed), ``contribution`` the term added,
    ``value`` the adjoint of ``target`` after adding it, ``first`` whether it started it.
    """

    target: str
    source: str
    partial: np.ndarray | None
    contribution: np.ndarray
    value: np.ndarray
    first: bool


@dataclass(frozen=True, eq=False)
class EvaluationTrace:
    """The forward primal, forward tangent and reverse adjoint traces of one evaluation.

    ``primal`` and ``tangent`` hold one row per input (v-1, v0 for two inputs), then one per
    op (v1 ... vn); ``constants`` the non-input values the ops used; ``adjoint`` each
    contribution in the order reverse mode adds it (from the output back). ``output`` is y,
    ``output_tangent`` ẏ (y's derivative along ``tangent`` at input ``wrt``), ``cotangent``
    the seed ȳ, and ``gradient`` the input adjoints x̄.
    """

    inputs: tuple[str, ...]
    wrt: int
    output_name: str
    primal: tuple[TraceRow, ...]
    constants: tuple[TraceRow, ...]
    tangent: tuple[TraceRow, ...]
    adjoint: tuple[AdjointRow, ...]
    output: np.ndarray
    output_tangent: np.ndarray
    cotangent: np.ndarray
    gradient: tuple[np.ndarray, ...]

    def __str__(self) -> str:
        n, y = len(self.inputs), self.output_name

        def rows(trace: Sequence[TraceRow], mark: str = "") -> list[list[str]]:
            return [[_accent(r.name, mark) if mark else r.name, "=", r.expr, "=", _fmt(r.value)]
                    for r in trace]

        contribs = []
        for r in self.adjoint:
            d = f"∂{r.source}/∂{r.target}"
            note = f"{d} = {_fmt(r.partial)}" if r.partial is not None else f"{d} applied by vjp"
            if not r.first:
                note += f", adds {_fmt(r.contribution)}"
            contribs.append([_accent(r.target, _BAR), "=" if r.first else "+=",
                             f"{_accent(r.source, _BAR)} · {d}", "=", _fmt(r.value), f"({note})"])
        grads = [[_accent(x, _BAR), "=", _accent(row.name, _BAR), "=", _fmt(g)]
                 for x, row, g in zip(self.inputs, self.primal, self.gradient)]
        primal, tangent = rows(self.primal), rows(self.tangent, _DOT)
        return "\n\n".join([
            _table("Forward primal trace", [
                primal[:n], rows(self.constants), primal[n:],
                [["y", "=", y, "=", _fmt(self.output)]]]),
            _table(f"Forward tangent trace (wrt {self.inputs[self.wrt]})", [
                tangent[:n], tangent[n:],
                [["y" + _DOT, "=", _accent(y, _DOT), "=", _fmt(self.output_tangent)]]]),
            _table("Reverse adjoint trace (from the output back)", [
                [[_accent(y, _BAR), "=", "y" + _BAR, "=", _fmt(self.cotangent)]], contribs, grads]),
        ])


def _input_leaves(inputs: Sequence[Any]) -> list[Tensor]:
    """Fresh leaves that require grad; Python numbers take the float dtype of the array inputs."""
    def typed(x: Any) -> bool:
        return isinstance(x, Tensor | np.generic) or B.is_array(x)

    given = [x.dtype for x in inputs if typed(x) and x.dtype.kind == "f"]
    dtype = given[0] if given else np.dtype(get_default_dtype())
    leaves = []
    for i, x in enumerate(inputs):
        arr = x._data if isinstance(x, Tensor) else as_array(x, None if typed(x) else dtype)
        if arr.dtype.kind != "f":
            raise TypeError(f"evaluation_trace: input {i} must be floating, got {arr.dtype}")
        leaves.append(Tensor._make(arr, True, None))
    return leaves


def _seed(value: Any, like: np.ndarray, what: str) -> np.ndarray:
    """ones like ``like``, or value checked against its shape and cast to its dtype."""
    if value is None:
        return np.ones_like(like)
    arr = B.array_like(value._data if isinstance(value, Tensor) else value, like, like.dtype)
    if arr.shape != like.shape:
        raise ValueError(f"evaluation_trace: {what} of shape {arr.shape} does not match "
                         f"shape {like.shape}")
    return arr


def _dense(d: Any, like: np.ndarray) -> np.ndarray:
    """A tangent or cotangent as an array of like's shape, dtype and device (ZERO as zeros)."""
    if d is ZERO or d is None:
        return np.zeros_like(like)
    return np.broadcast_to(B.array_like(d, like, like.dtype), like.shape).copy()


def _host(a: Any) -> Any:
    """A reported value as a host ndarray (None stays None)."""
    return None if a is None else B.asnumpy(a)


def _per_input(node: Any, result: Any) -> tuple:
    return (result,) if len(node.args) == 1 else tuple(result)


class _Names:
    """Names in a trace: inputs and op outputs are variables (v-1, v0, v1...), others constants."""

    def __init__(self, leaves: list[Tensor], nodes: list[Any]) -> None:
        n = len(leaves)
        self.var = {id(t): f"v{i - n + 1}" for i, t in enumerate(leaves)}
        self.var.update({id(node): f"v{i + 1}" for i, node in enumerate(nodes)})
        self.consts: dict[int, str] = {}
        self.const_rows: list[TraceRow] = []

    def key(self, a: Any) -> int | None:
        """The variable a is (an input or an op's output), or None for a constant."""
        if not isinstance(a, Tensor):
            return None
        k = id(a._node) if a._node is not None else id(a)
        return k if k in self.var else None

    def label(self, a: Any) -> str:
        """a's variable name, a scalar constant's value, or a named constant."""
        k = self.key(a)
        if k is not None:
            return self.var[k]
        arr = B.asarray(a._data if isinstance(a, Tensor) else a)
        if arr.size == 1 and not (isinstance(a, Tensor) and a.requires_grad):
            return _scalar(arr)
        if id(a) not in self.consts:
            name = f"c{len(self.consts) + 1}"
            self.consts[id(a)] = name
            kind = "requires grad, not an input" if getattr(a, "requires_grad", False) else (
                "constant")
            self.const_rows.append(TraceRow(name, kind, _host(arr)))
        return self.consts[id(a)]


def _expr(node: Any, labels: list[str]) -> str:
    """An op as an expression of its inputs' names: ``v-1 * v0``, ``log(v-1)``, ``v1 ** 2``."""
    name = _name(node.op)
    if name == "neg" and len(labels) == 1:
        return f"-{labels[0]}"
    p = getattr(node, "p", None)
    if name == "pow" and len(labels) == 1 and p is not None:
        return f"{labels[0]} ** {p:g}"
    if name in _INFIX and len(labels) == 2:
        return f"{labels[0]} {_INFIX[name]} {labels[1]}"
    return f"{name}({', '.join(labels)})"


def evaluation_trace(
    f: Callable[..., Any],
    *inputs: Any,
    wrt: int = 0,
    tangent: Any = None,
    cotangent: Any = None,
    names: Sequence[str] | None = None,
) -> EvaluationTrace:
    """Evaluate f once and tabulate its primal, tangent and adjoint traces (Baydin et al.).

    The primal trace is the recorded graph in creation order; the tangent trace applies each
    op's jvp rule with input ``wrt`` seeded by ``tangent`` (default ones, so a scalar input
    gives ∂/∂x) and the others by 0; the adjoint trace walks the nodes from the output back
    applying each op's vjp rule to ``cotangent`` (default ones, so a scalar output gives the
    gradient). Print the result for the tables; read its attributes for the numbers.
    ``names`` names the inputs in the tables (default x1, x2, ...).
    """
    n, input_names = len(inputs), names
    if n == 0:
        raise ValueError("evaluation_trace: f needs at least one input")
    if not -n <= wrt < n:
        raise ValueError(f"evaluation_trace: wrt={wrt} out of range for {n} inputs")
    wrt %= n
    leaves = _input_leaves(inputs)
    with enable_grad():
        out = f(*leaves)
    if not isinstance(out, Tensor) or out._data.dtype.kind != "f":
        what = f"dtype {out._data.dtype}" if isinstance(out, Tensor) else type(out).__name__
        raise TypeError(f"evaluation_trace: f must return a float Tensor, got {what}")
    nodes, values = _graph(out, "evaluation_trace")
    names = _Names(leaves, nodes)
    xs = tuple(input_names) if input_names is not None else tuple(f"x{i + 1}" for i in range(n))
    if len(xs) != n:
        raise ValueError(f"evaluation_trace: {len(xs)} names for {n} inputs")

    # Forward: primal rows, and tangents pushed through each op's jvp rule.
    tans: dict[int, Any] = {id(t): ZERO for t in leaves}
    tans[id(leaves[wrt])] = _seed(tangent, leaves[wrt]._data, "tangent")
    primal = [TraceRow(names.var[id(t)], x, _host(t._data)) for t, x in zip(leaves, xs)]
    tangent_rows = [TraceRow(names.var[id(t)], _accent(x, _DOT),
                             _host(_dense(tans[id(t)], t._data))) for t, x in zip(leaves, xs)]
    for node in nodes:
        v, value = names.var[id(node)], values[id(node)]
        primal.append(TraceRow(v, _expr(node, [names.label(a) for a in node.args]),
                               _host(value)))
        ins = [tans.get(k, ZERO) if (k := names.key(a)) is not None else ZERO for a in node.args]
        d = ZERO
        if any(t is not ZERO for t in ins):
            node.batch = 0
            d = node.op.jvp(node, *ins)
        tans[id(node)] = d
        used = dict.fromkeys(names.var[k] for a in node.args if (k := names.key(a)) is not None)
        expr = " + ".join(f"∂{v}/∂{u} · {_accent(u, _DOT)}" for u in used) or "0"
        tangent_rows.append(TraceRow(v, expr, _host(_dense(d, value))))

    # Reverse: from the output back, each op's vjp rule gives one contribution per input.
    y_key = names.key(out)
    ybar = _seed(cotangent, out._data, "cotangent")
    adj: dict[int, np.ndarray] = {} if y_key is None else {y_key: ybar}
    adjoint: list[AdjointRow] = []
    for node in reversed(nodes):
        g = adj.get(id(node))
        if g is None:
            continue
        node.batch = 0
        gins = _per_input(node, node.op.vjp(node, g))
        ones = _per_input(node, node.op.vjp(node, np.ones_like(g))) if g.size == 1 else None
        terms: dict[int, list[Any]] = {}  # target -> [contribution, partial], in input order
        for i, a in enumerate(node.args):
            k = names.key(a)
            if k is None or gins[i] is None or gins[i] is ZERO:
                continue
            c = B.array_like(gins[i], a._data, a._data.dtype)
            p = None if ones is None else B.array_like(ones[i], a._data, a._data.dtype)
            if k in terms:  # the same variable used twice by one op: one total partial
                c0, p0 = terms[k]
                c, p = c0 + c, None if p is None else p0 + p
            terms[k] = [c, p]
        for k, (c, p) in terms.items():
            first = k not in adj
            adj[k] = c if first else adj[k] + c
            adjoint.append(AdjointRow(names.var[k], names.var[id(node)], _host(p), _host(c),
                                      _host(adj[k]), first))

    return EvaluationTrace(
        inputs=xs,
        wrt=wrt,
        output_name=names.var[y_key] if y_key is not None else names.label(out),
        primal=tuple(primal),
        constants=tuple(names.const_rows),
        tangent=tuple(tangent_rows),
        adjoint=tuple(adjoint),
        output=_host(out._data),
        output_tangent=_host(_dense(tans.get(y_key, ZERO), out._data)),
        cotangent=_host(ybar),
        gradient=tuple(_host(_dense(adj.get(id(t)), t._data)) for t in leaves),
    )


# ----- Graphviz -----
def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _leaf_node(a: Any) -> str:
    """DOT attributes of a leaf: a parameter (requires grad or nn.Parameter) or a constant."""
    arr = B.asarray(a._data if isinstance(a, Tensor) else a)
    is_param = type(a).__name__ == "Parameter"
    grad = isinstance(a, Tensor) and a.requires_grad
    kind = "Parameter" if is_param else "parameter" if grad else "constant"
    if is_param and not grad:
        kind += " (frozen)"
    label = kind if isinstance(a, Tensor | np.ndarray) else f"{kind} {type(a).__name__}"
    if isinstance(a, Tensor | np.ndarray):  # a Python number's dtype is set by the op using it
        label += f"\n{_shape(arr.shape)} {arr.dtype}"
    if kind == "constant" and arr.size == 1:
        label += f"\n= {_scalar(arr)}"
    style = ', style=filled, fillcolor="#cfe2f3"' if grad else ""
    return f"label={_quote(label)}, shape=box{style}"


def to_dot(t: Tensor) -> str:
    """Graphviz DOT text of the graph that produced t (render with ``dot -Tsvg``).

    One node per op (its name, output shape and dtype; the output's op drawn doubled), one per
    leaf (a parameter if it requires grad or is an ``nn.Parameter``, else a constant; non-Tensor
    constants one per use), and an edge from each input to the op using it, labelled with the
    input's position when the op has several. Deterministic: ids follow creation order.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(t).__name__}")
    nodes, values = _graph(t, "to_dot")
    ids = {id(node): f"op{i}" for i, node in enumerate(nodes)}
    leaves: dict[int, str] = {}
    consts: list[str] = []
    decls: list[str] = []
    edges: list[str] = []

    def leaf_id(a: Any) -> str:
        if isinstance(a, Tensor):
            if id(a) in leaves:
                return leaves[id(a)]
            name = leaves[id(a)] = f"leaf{len(leaves)}"
        else:
            name = f"const{len(consts)}"
            consts.append(name)
        out = ", peripheries=2" if a is t else ""
        decls.append(f"  {name} [{_leaf_node(a)}{out}];")
        return name

    if not nodes:
        leaf_id(t)
    for node in nodes:
        value = values[id(node)]
        for i, a in enumerate(node.args):
            src = ids[id(a._node)] if isinstance(a, Tensor) and a._node is not None else (
                leaf_id(a))
            label = f" [label={_quote(str(i))}]" if len(node.args) > 1 else ""
            edges.append(f"  {src} -> {ids[id(node)]}{label};")
        label = f"{_name(node.op)}\n{_shape(value.shape)} {value.dtype}"
        out = ", peripheries=2" if node is t._node else ""
        decls.append(f"  {ids[id(node)]} [label={_quote(label)}, shape=ellipse{out}];")
    return "\n".join([
        "digraph chainrule {",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        *decls,
        *edges,
        "}",
    ]) + "\n"
