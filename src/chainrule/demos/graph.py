"""The AD survey's example as a picture: f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chainrule as cr
from chainrule.autodiff.draw import draw_graph
from chainrule.demos.expression import as_function, bind, parse

EXPR = "log(x1) + x1*x2 - sin(x2)"


def run(out: Path) -> dict[str, Any]:
    """Trace and draw the survey example; returns each node's value and adjoint by name."""
    expr = parse(EXPR)
    names, xs = bind(expr, {"x1": 2.0, "x2": 5.0})
    f = as_function(expr, names)
    print(cr.evaluation_trace(f, *xs, names=names))
    leaves = [x.detach().requires_grad_() for x in xs]
    g = draw_graph(f(*leaves), out / "graph.png", dict(zip(names, leaves)),
                   title="ln(x1) + x1*x2 - sin(x2) at (2, 5): one reverse pass gives both "
                   "adjoints, x̄1 = 5.5 and x̄2 = 1.716")
    print(f"figure written to {out / 'graph.png'}")
    values = {n.name: float(n.value) for n in g.nodes}
    grads = {n.name: float(n.grad) for n in g.nodes if n.grad is not None}
    return {"values": values, "adjoints": grads, "edges": len(g.edges), "nodes": len(g.nodes),
            "figures": [out / "graph.png"]}
