"""evaluation_trace against Baydin et al.'s survey tables and the transforms; to_dot's text."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import chainrule as cr
from chainrule.autodiff.inspect import EvaluationTrace


def survey_f(x1: cr.Tensor, x2: cr.Tensor) -> cr.Tensor:
    """ln(x1) + x1*x2 - sin(x2), one elementary op per line in the survey's order."""
    v1 = cr.log(x1)
    v2 = x1 * x2
    v3 = cr.sin(x2)
    v4 = v1 + v2
    return v4 - v3


@pytest.fixture
def survey() -> EvaluationTrace:
    return cr.evaluation_trace(survey_f, cr.tensor(2.0, dtype=cr.float64), 5.0, wrt=0)


# ----- evaluation_trace: the survey's three tables -----
def test_primal_trace_matches_survey(survey):
    got = [(r.name, r.expr, float(r.value)) for r in survey.primal]
    want = [
        ("v-1", "x1", 2.0),
        ("v0", "x2", 5.0),
        ("v1", "log(v-1)", np.log(2)),
        ("v2", "v-1 * v0", 10.0),
        ("v3", "sin(v0)", np.sin(5)),
        ("v4", "v1 + v2", 10.693),
        ("v5", "v4 - v3", 11.652),
    ]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want], atol=5e-4)
    assert survey.output_name == "v5"
    assert float(survey.output) == pytest.approx(11.652, abs=5e-4)
    assert survey.constants == ()


def test_tangent_trace_matches_survey(survey):
    assert [r.name for r in survey.tangent] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5"]
    values = [float(r.value) for r in survey.tangent]
    np.testing.assert_allclose(values, [1, 0, 0.5, 5, 0, 5.5, 5.5], atol=1e-12)
    assert float(survey.output_tangent) == pytest.approx(5.5)
    assert survey.tangent[3].expr == "∂v2/∂v-1 · v\u0307-1 + ∂v2/∂v0 · v\u03070"


def test_tangent_trace_for_second_input_gives_dy_dx2():
    trace = cr.evaluation_trace(survey_f, 2.0, 5.0, wrt=1)
    assert trace.wrt == 1
    assert float(trace.output_tangent) == pytest.approx(2 - np.cos(5), abs=1e-5)


def test_adjoint_trace_matches_survey_from_the_output_back(survey):
    # The survey's reverse table read from its bottom (the output) up.
    want = [
        ("v4", "v5", 1.0, 1.0, 1.0, True),
        ("v3", "v5", -1.0, -1.0, -1.0, True),
        ("v1", "v4", 1.0, 1.0, 1.0, True),
        ("v2", "v4", 1.0, 1.0, 1.0, True),
        ("v0", "v3", np.cos(5), -np.cos(5), -0.284, True),
        ("v-1", "v2", 5.0, 5.0, 5.0, True),
        ("v0", "v2", 2.0, 2.0, 1.716, False),
        ("v-1", "v1", 0.5, 0.5, 5.5, False),
    ]
    got = survey.adjoint
    assert [(r.target, r.source, r.first) for r in got] == [(w[0], w[1], w[5]) for w in want]
    for r, (*_, partial, contribution, value, _first) in zip(got, want, strict=True):
        assert float(r.partial) == pytest.approx(partial, abs=5e-4)
        assert float(r.contribution) == pytest.approx(contribution, abs=5e-4)
        assert float(r.value) == pytest.approx(value, abs=5e-4)
    x1bar, x2bar = (float(g) for g in survey.gradient)
    assert x1bar == pytest.approx(5.5)
    assert x2bar == pytest.approx(1.716, abs=5e-4)


def test_str_prints_the_three_tables(survey):
    text = str(survey)
    for title in ("Forward primal trace", "Forward tangent trace (wrt x1)",
                  "Reverse adjoint trace (from the output back)"):
        assert title in text
    for line in ("v1  = log(v-1) = 0.693", "y   = v5       = 11.652",
                 "y\u0307   = v\u03075", "= 5.500",
                 "v\u03043  =  v\u03045 · ∂v5/∂v3  = -1.000",
                 "v\u03040  =  v\u03043 · ∂v3/∂v0  = -0.284",
                 "v\u03040  += v\u03042 · ∂v2/∂v0  = 1.716",
                 "x\u03041  =  v\u0304-1           = 5.500",
                 "x\u03042  =  v\u03040            = 1.716"):
        assert line in text, line


# ----- evaluation_trace: general functions -----
def test_matches_grad_and_jvp_on_tensors(rng):
    w = cr.tensor(rng.standard_normal((3, 4)))  # a closed-over constant
    b = rng.standard_normal(4)

    def f(x, y):
        h = cr.tanh(x @ w + b) * y
        return cr.sum(h * h) / 2.0 + cr.mean(cr.exp(y))

    x, y = rng.standard_normal((2, 3)), rng.standard_normal(4)
    dx = rng.standard_normal((2, 3))
    trace = cr.evaluation_trace(f, x, y, wrt=0, tangent=dx)
    gx, gy = cr.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(trace.gradient[0], gx.cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(trace.gradient[1], gy.cpu().numpy(), rtol=1e-12)
    out, dout = cr.jvp(lambda x: f(x, y), (x,), (dx,))
    np.testing.assert_allclose(trace.output, out.cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(trace.output_tangent, dout.cpu().numpy(), rtol=1e-12)
    assert [r.name for r in trace.constants] == ["c1", "c2"]
    text = str(trace)
    assert "v1  = v-1 @ c1" in text
    assert "[2x3] mean" in text  # arrays are shown by shape and a summary
    assert "applied by vjp" in text  # a Jacobian is not printed as a number


def test_variable_used_twice_gets_one_total_partial():
    trace = cr.evaluation_trace(lambda x: x * x, 3.0)
    (row,) = trace.adjoint
    assert (row.target, row.source) == ("v0", "v1")
    assert float(row.partial) == pytest.approx(6.0)
    assert float(trace.gradient[0]) == pytest.approx(6.0)
    assert trace.primal[1].expr == "v0 * v0"


def test_scalar_constants_and_exponents_are_written_inline():
    trace = cr.evaluation_trace(lambda x: 2 * x**3 - cr.neg(x), 1.5)
    assert [r.expr for r in trace.primal[1:]] == ["v0 ** 3", "2 * v1", "-v0", "v2 - v3"]
    assert float(trace.gradient[0]) == pytest.approx(6 * 1.5**2 + 1)


def test_works_under_no_grad_and_for_an_identity():
    with cr.no_grad():
        trace = cr.evaluation_trace(lambda x: cr.sin(x), 0.0)
    assert float(trace.gradient[0]) == pytest.approx(1.0)
    trace = cr.evaluation_trace(lambda x: x, 3.0)
    assert trace.adjoint == ()
    assert float(trace.gradient[0]) == 1.0
    assert float(trace.output_tangent) == 1.0


def test_numbers_take_the_dtype_of_array_inputs():
    trace = cr.evaluation_trace(survey_f, np.float64(2.0), cr.tensor(5.0, dtype=cr.float64))
    assert trace.output.dtype == np.float64


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="wrt"):
        cr.evaluation_trace(survey_f, 2.0, 5.0, wrt=2)
    with pytest.raises(ValueError, match="tangent"):
        cr.evaluation_trace(survey_f, 2.0, 5.0, tangent=np.ones(3))
    with pytest.raises(TypeError, match="float Tensor"):
        cr.evaluation_trace(lambda x: 1.0, 2.0)
    with pytest.raises(TypeError, match="floating"):
        cr.evaluation_trace(survey_f, np.array(2), 5.0)


# ----- to_dot -----
_DECL = re.compile(r'^  (\w+) \[(\w+=("([^"\\]|\\.)*"|[\w#]+)(, )?)+\];$')
_EDGE = re.compile(r'^  (\w+) -> (\w+)( \[label="\d+"\])?;$')


def _parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Check the DOT text line by line; return node id -> label and the edges."""
    lines = dot.splitlines()
    assert lines[0] == "digraph chainrule {"
    assert lines[-1] == "}"
    assert dot.count("{") == dot.count("}") == 1
    labels, edges = {}, []
    for line in lines[1:-1]:
        if line.startswith(("  node [", "  edge [")):
            continue
        if m := _EDGE.match(line):
            edges.append((m[1], m[2]))
            continue
        assert _DECL.match(line), line
        name = line.split()[0]
        labels[name] = re.search(r'label="((?:[^"\\]|\\.)*)"', line)[1]
    for src, dst in edges:
        assert src in labels
        assert dst in labels
    return labels, edges


def test_dot_of_the_survey_graph():
    x1 = cr.tensor(2.0, requires_grad=True)
    x2 = cr.tensor(5.0, requires_grad=True)
    dot = cr.to_dot(survey_f(x1, x2))
    labels, edges = _parse(dot)
    ops = {k: v.split("\\n")[0] for k, v in labels.items() if k.startswith("op")}
    assert ops == {"op0": "log", "op1": "mul", "op2": "sin", "op3": "add", "op4": "sub"}
    assert labels["leaf0"] == labels["leaf1"] == "parameter\\nscalar float32"
    assert sorted(edges) == sorted([
        ("leaf0", "op0"), ("leaf0", "op1"), ("leaf1", "op1"), ("leaf1", "op2"),
        ("op0", "op3"), ("op1", "op3"), ("op3", "op4"), ("op2", "op4"),
    ])
    assert "op4 [" in dot
    assert 'op4 [label="sub\\nscalar float32", shape=ellipse, peripheries=2];' in dot
    assert dot == cr.to_dot(survey_f(x1, x2))  # deterministic


class Parameter(cr.Tensor):
    """Stands in for nn.Parameter: to_dot recognises it by its class name."""


def test_dot_marks_parameters_constants_and_shapes(rng):
    w = Parameter(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    x = cr.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    frozen = Parameter(np.ones(4, np.float32))
    y = cr.relu(x @ w + frozen) * 0.5
    labels, edges = _parse(cr.to_dot(y))
    kinds = sorted(v for k, v in labels.items() if not k.startswith("op"))
    assert kinds == ["Parameter (frozen)\\n4 float32", "Parameter\\n3x4 float32",
                     "constant float\\n= 0.5", "constant\\n2x3 float32"]
    ops = sorted(v for k, v in labels.items() if k.startswith("op"))
    assert ops == ["add\\n2x4 float32", "matmul\\n2x4 float32", "mul\\n2x4 float32",
                   "relu\\n2x4 float32"]
    assert len(edges) == 7


def test_dot_of_a_leaf_and_after_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    labels, edges = _parse(cr.to_dot(x))
    assert labels == {"leaf0": "parameter\\n2 float32"}
    assert edges == []
    y = cr.sum(x * x)
    y.backward()
    with pytest.raises(RuntimeError, match="freed"):
        cr.to_dot(y)


def test_dot_escapes_quotes():
    class Quoted(cr.Function):
        name = 'say "hi"'

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def vjp(ctx, g):
            return g

        @staticmethod
        def jvp(ctx, dx):
            return dx

    dot = cr.to_dot(Quoted.apply(cr.tensor(1.0, requires_grad=True)))
    labels, _ = _parse(dot)
    assert labels["op0"] == 'say \\"hi\\"\\nscalar float32'


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_renders():
    x = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    dot = cr.to_dot(cr.sum(cr.tanh(x) * 2.0))
    result = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout
