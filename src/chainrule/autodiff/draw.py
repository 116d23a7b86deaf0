"""Pictures of a recorded graph: through Graphviz's ``dot`` when installed, else matplotlib.

Nodes are numbered as in an evaluation trace (named inputs v-1, v0, ops v1 ... vn in creation
order), with shapes, values and adjoints (each op's own vjp rule, seeded with ones) on them.
matplotlib is imported only when the fallback layout is drawn.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.inspect import _expr, _fmt, _graph, _host, _Names, _per_input, _shape
from chainrule.autodiff.zero import ZERO
from chainrule.tensor import Tensor


@dataclass(frozen=True)
class GraphNode:
    """One drawn node: an op's output or a leaf (input, parameter or constant); its value and
    grad are host ndarrays (copied from a device)."""

    key: str
    kind: str  # "op", "input", "parameter" or "constant"
    name: str
    label: str
    layer: int
    value: np.ndarray
    grad: np.ndarray | None


@dataclass(frozen=True)
class Graph:
    """The nodes (inputs first, then ops in creation order) and edges (src, dst, argument)."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str, int | None], ...]
    output: str


def _adjoints(out: Tensor, nodes: list[Any], key: Any) -> dict[int, np.ndarray]:
    """d(sum out)/dv for every variable v, by each op's vjp rule from the output back."""
    adj: dict[int, np.ndarray] = {}
    k = key(out)
    if k is None:
        return adj
    adj[k] = np.ones_like(out._data)
    for node in reversed(nodes):
        g = adj.get(id(node))
        if g is None:
            continue
        node.batch = 0
        for a, gi in zip(node.args, _per_input(node, node.op.vjp(node, g))):
            ka = key(a)
            if ka is None or gi is None or gi is ZERO:
                continue
            gi = np.broadcast_to(B.array_like(gi, a._data, a._data.dtype), a._data.shape)
            adj[ka] = gi + adj[ka] if ka in adj else gi.copy()
    return adj


def graph_of(t: Tensor, names: Mapping[str, Tensor] | None = None, values: bool = True,
             grads: bool = True) -> Graph:
    """The graph that produced t, as labelled nodes and edges (what draw_graph draws)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(t).__name__}")
    nodes, vals = _graph(t, "draw_graph")
    named = dict(names or {})
    inputs = list(named.values())
    nm = _Names(inputs, nodes)
    seen = {id(x) for x in inputs}
    others = []  # unnamed Tensor leaves drawn as nodes: parameters and array constants
    for node in nodes:
        for a in node.args:
            if (isinstance(a, Tensor) and a._node is None and id(a) not in seen
                    and (a.requires_grad or a._data.size > 1)):
                seen.add(id(a))
                others.append(a)
    for a in others:
        nm.label(a)  # registers c1, c2, ... in first-use order

    def key(a: Any) -> int | None:
        if not isinstance(a, Tensor):
            return None
        k = id(a._node) if a._node is not None else id(a)
        return k if (k in nm.var or k in nm.consts) else None

    adj = _adjoints(t, nodes, key) if grads else {}
    layer: dict[int, int] = {}
    for node in nodes:
        layer[id(node)] = 1 + max((layer.get(key(a) or 0, 0) for a in node.args), default=0)
    first_use: dict[int, int] = {}
    for node in nodes:
        for a in node.args:
            k = key(a)
            if k is not None and k not in layer:
                first_use[k] = min(first_use.get(k, layer[id(node)]), layer[id(node)])

    def describe(name: str, expr: str, arr: np.ndarray, k: int) -> str:
        lines = [f"{name} = {expr}" if expr else name]
        if arr.size > 1:
            lines.append(f"[{_shape(arr.shape)}] {arr.dtype}")
        if values:
            lines.append(f"value {_fmt(arr)}")
        if k in adj:
            lines.append(f"grad {_fmt(adj[k])}")
        return "\n".join(lines)

    out: list[GraphNode] = []
    ids: dict[int, str] = {}
    for i, (x_name, x) in enumerate(named.items()):
        k = id(x)
        ids[k] = f"in{i}"
        out.append(GraphNode(ids[k], "input", nm.var[k], describe(nm.var[k], x_name, x._data, k),
                             max(first_use.get(k, 1) - 1, 0), _host(x._data), _host(adj.get(k))))
    for a in others:
        k, name = id(a), nm.consts[id(a)]
        kind = "parameter" if a.requires_grad else "constant"
        ids[k] = f"leaf{len(ids)}"
        out.append(GraphNode(ids[k], kind, name, describe(name, kind, a._data, k),
                             max(first_use.get(k, 1) - 1, 0), _host(a._data), _host(adj.get(k))))
    edges: list[tuple[str, str, int | None]] = []
    for j, node in enumerate(nodes):
        k, name = id(node), nm.var[id(node)]
        ids[k] = f"op{j}"
        expr = _expr(node, [nm.label(a) for a in node.args])
        out.append(GraphNode(ids[k], "op", name, describe(name, expr, vals[k], k), layer[k],
                             _host(vals[k]), _host(adj.get(k))))
        srcs = [(i, ids[ka]) for i, a in enumerate(node.args) if (ka := key(a)) is not None]
        edges += [(s, ids[k], i if len(srcs) > 1 else None) for i, s in srcs]
    if not nodes:
        raise ValueError("draw_graph: t was not produced by any recorded op (a leaf)")
    return Graph(tuple(out), tuple(edges), ids[id(t._node)])


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(g: Graph) -> str:
    """Graphviz DOT text of a Graph, left to right."""
    fill = {"input": "#cfe2f3", "parameter": "#d9ead3", "constant": "#eeeeee", "op": "#fff2cc"}
    lines = ["digraph chainrule {", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10, style=filled];']
    for n in g.nodes:
        shape = "ellipse" if n.kind == "op" else "box"
        extra = ", peripheries=2" if n.key == g.output else ""
        lines.append(f"  {n.key} [label={_quote(n.label)}, shape={shape}, "
                     f'fillcolor="{fill[n.kind]}"{extra}];')
    for s, d, i in g.edges:
        lines.append(f"  {s} -> {d}" + (f" [label={_quote(str(i))}];" if i is not None else ";"))
    return "\n".join([*lines, "}"]) + "\n"


def _positions(g: Graph) -> dict[str, tuple[float, float]]:
    """A layered layout: x by layer, y ordered by the mean position of each node's inputs."""
    layers: dict[int, list[str]] = {}
    for n in g.nodes:
        layers.setdefault(n.layer, []).append(n.key)
    preds: dict[str, list[str]] = {}
    for s, d, _ in g.edges:
        preds.setdefault(d, []).append(s)
    ypos: dict[str, float] = {}
    for lay in sorted(layers):
        keys = layers[lay]
        if lay > 0:
            def bary(k: str, keys: list[str] = keys) -> float:
                ys = [ypos[p] for p in preds.get(k, []) if p in ypos]
                return sum(ys) / len(ys) if ys else float(keys.index(k))
            keys.sort(key=bary)
        for i, k in enumerate(keys):
            ypos[k] = i - (len(keys) - 1) / 2
    return {n.key: (3.0 * n.layer, -1.6 * ypos[n.key]) for n in g.nodes}


def _draw_matplotlib(g: Graph, path: Path, title: str | None) -> None:
    """Draw g with matplotlib (no pyplot state): boxes for leaves, rounded boxes for ops."""
    from matplotlib.figure import Figure

    pos = _positions(g)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    w = 2.2 + 0.75 * (max(xs) - min(xs))
    h = 1.8 + 0.7 * (max(ys) - min(ys))
    fig = Figure(figsize=(min(w, 40), min(h, 40)))
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9 if title else 0.96))
    ax.set_axis_off()
    fill = {"input": "#cfe2f3", "parameter": "#d9ead3", "constant": "#eeeeee", "op": "#fff2cc"}
    texts = {}
    for n in g.nodes:
        style = "round,pad=0.4" if n.kind == "op" else "square,pad=0.4"
        lw = 2.5 if n.key == g.output else 1.0
        t = ax.text(*pos[n.key], n.label, ha="center", va="center", fontsize=8, zorder=3,
                    bbox={"boxstyle": style, "fc": fill[n.kind], "ec": "black", "lw": lw})
        t.set_gid(f"node{len(texts)}")
        texts[n.key] = t
    for s, d, i in g.edges:
        ax.annotate("", xy=(0, 0.5), xycoords=texts[d], xytext=(1, 0.5), textcoords=texts[s],
                    arrowprops={"arrowstyle": "-|>", "color": "0.3", "shrinkA": 6, "shrinkB": 6,
                                "connectionstyle": "arc3,rad=0.0"}, zorder=2)
        if i is not None:
            (x0, y0), (x1, y1) = pos[s], pos[d]
            ax.text(0.35 * x0 + 0.65 * x1, 0.35 * y0 + 0.65 * y1 + 0.12, str(i), fontsize=7,
                    color="0.35", ha="center")
    pad = 1.5
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)


def draw_graph(t: Tensor, path: str | Path, names: Mapping[str, Tensor] | None = None, *,
               values: bool = True, grads: bool = True, engine: str = "auto",
               title: str | None = None) -> Graph:
    """Draw the graph that produced t to ``path`` (.svg or .png); returns what was drawn.

    ``names`` maps input names to leaf Tensors (numbered v-1, v0, ... as in a trace); ``engine``
    is "graphviz" (needs ``dot`` on PATH), "matplotlib", or "auto" (Graphviz when installed).
    Call it before ``backward`` frees the graph (or after ``backward(retain_graph=True)``).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise ValueError(f"draw_graph: path must end in .svg or .png, got {path.name!r}")
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(f"draw_graph: engine must be auto, graphviz or matplotlib, got {engine!r}")
    g = graph_of(t, names, values=values, grads=grads)
    dot = shutil.which("dot") if engine != "matplotlib" else None
    if engine == "graphviz" and dot is None:
        raise RuntimeError("draw_graph: engine='graphviz' needs Graphviz's dot program on PATH")
    if dot is not None:
        text = graph_dot(g)
        if title:
            text = text.replace("  rankdir=LR;", f"  rankdir=LR; label={_quote(title)}; "
                                "labelloc=t;", 1)
        subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=text.encode(), check=True,
                       timeout=60, capture_output=True)
    else:
        _draw_matplotlib(g, path, title)
    return g
