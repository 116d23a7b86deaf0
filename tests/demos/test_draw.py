"""cr.draw_graph: matplotlib's layered layout, and Graphviz's dot when installed (or faked)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr


def survey() -> tuple[cr.Tensor, dict[str, cr.Tensor]]:
    x1 = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    x2 = cr.tensor(5.0, dtype=cr.float64, requires_grad=True)
    v1, v2, v3 = cr.log(x1), x1 * x2, cr.sin(x2)
    return (v1 + v2) - v3, {"x1": x1, "x2": x2}


def svg_nodes(path) -> int:
    root = ET.parse(path).getroot()
    return sum(1 for e in root.iter() if (e.get("id") or "").startswith("node"))


def test_matplotlib_png_and_svg_have_every_node(tmp_path):
    y, names = survey()
    g = cr.draw_graph(y, tmp_path / "g.svg", names, engine="matplotlib")
    assert len(g.nodes) == 7
    assert len(g.edges) == 8
    assert [n.name for n in g.nodes] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5"]
    assert svg_nodes(tmp_path / "g.svg") == len(g.nodes)
    cr.draw_graph(y, tmp_path / "g.png", names, engine="matplotlib")
    import matplotlib.image

    img = matplotlib.image.imread(tmp_path / "g.png")
    assert img.ndim == 3
    assert img.shape[0] > 100
    assert img.shape[1] > 100
    grads = {n.name: float(n.grad) for n in g.nodes}
    assert grads["v-1"] == pytest.approx(5.5)
    assert grads["v0"] == pytest.approx(2 - np.cos(5))
    y.backward()  # the drawing left the graph and .grad alone
    assert x_grad(names) == pytest.approx([5.5, 2 - np.cos(5)])


def x_grad(names: dict[str, cr.Tensor]) -> list[float]:
    return [names[k].grad.item() for k in ("x1", "x2")]


def test_parameters_and_constants_of_a_layer_are_nodes(tmp_path):
    lin = cr.nn.Linear(3, 2)
    x = cr.tensor(np.ones((4, 3), dtype=np.float32))
    g = cr.draw_graph(cr.relu(lin(x)).sum(), tmp_path / "m.svg", engine="matplotlib")
    kinds = sorted(n.kind for n in g.nodes if n.kind != "op")
    assert kinds == ["constant", "parameter", "parameter"]
    assert svg_nodes(tmp_path / "m.svg") == len(g.nodes)


FAKE_DOT = """#!{python}
import re, sys
text = sys.stdin.read()
nodes = re.findall(r"^  (\\w+) \\[label=", text, re.M)
out = sys.argv[sys.argv.index("-o") + 1]
body = "".join(f'<g id="node{{i}}" class="node"><title>{{n}}</title></g>'
               for i, n in enumerate(nodes))
open(out, "w").write(f'<svg xmlns="http://www.w3.org/2000/svg">{{body}}</svg>')
"""


def test_graphviz_path_pipes_dot_text_to_dot(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    dot = bindir / "dot"
    dot.write_text(FAKE_DOT.format(python=sys.executable))
    dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    y, names = survey()
    g = cr.draw_graph(y, tmp_path / "g.svg", names, engine="graphviz")
    assert svg_nodes(tmp_path / "g.svg") == len(g.nodes) == 7


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_real_graphviz(tmp_path):
    y, names = survey()
    g = cr.draw_graph(y, tmp_path / "g.svg", names, engine="graphviz")
    assert svg_nodes(tmp_path / "g.svg") == len(g.nodes)


def test_errors(tmp_path, monkeypatch):
    y, _names = survey()
    with pytest.raises(ValueError, match=r"svg or \.png"):
        cr.draw_graph(y, tmp_path / "g.pdf")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="dot program"):
        cr.draw_graph(y, tmp_path / "g.svg", engine="graphviz")
