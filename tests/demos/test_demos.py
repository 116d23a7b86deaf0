"""Each demo against the numbers its lecture states or implies; `chainrule demo` itself."""

from __future__ import annotations

import itertools
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from chainrule.cli import main
from chainrule.demos import DEMOS, run_demo

EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("demos")


def figures_decode(res) -> None:
    for path in res["figures"]:
        img = matplotlib.image.imread(path)
        assert img.shape[0] >= 200  # Graphviz draws the graph demo smaller than matplotlib
        assert img.shape[1] >= 300


def test_list_names_every_demo_with_its_lecture(capsys):
    assert main(["demo", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(DEMOS)
    assert all("lecture" in ln for ln in lines)
    assert main(["demo", "no-such-demo"]) == 2


def test_graph_nodes_values_and_adjoints_as_the_survey_table(out):
    res = run_demo("graph", out)
    want = {"v-1": 2, "v0": 5, "v1": np.log(2), "v2": 10, "v3": np.sin(5), "v4": 10.693,
            "v5": 11.652}
    assert list(res["values"]) == list(want)
    np.testing.assert_allclose(list(res["values"].values()), list(want.values()), atol=5e-4)
    adj = {"v-1": 5.5, "v0": 1.716, "v1": 1, "v2": 1, "v3": -1, "v4": 1, "v5": 1}
    np.testing.assert_allclose([res["adjoints"][k] for k in adj], list(adj.values()), atol=5e-4)
    assert res["edges"] == 8
    figures_decode(res)


def test_fd_error_best_steps_and_slopes(out):
    res = run_demo("fd-error", out)
    one, central = res["one-sided"], res["central"]
    assert np.sqrt(EPS) / 10 <= one["best_h"] <= np.sqrt(EPS) * 10
    assert EPS ** (1 / 3) / 10 <= central["best_h"] <= EPS ** (1 / 3) * 10
    assert one["truncation_slope"] == pytest.approx(1, abs=0.1)   # error ~ h
    assert central["truncation_slope"] == pytest.approx(2, abs=0.1)  # error ~ h^2
    assert one["roundoff_slope"] == pytest.approx(-1, abs=0.25)  # error ~ eps / h
    assert central["roundoff_slope"] == pytest.approx(-1, abs=0.25)
    assert central["best_error"] < one["best_error"] / 100
    figures_decode(res)


def test_jacobian_cost_pass_counts_and_crossover(out):
    res = run_demo("jacobian-cost", out)
    for (n, m), r in res["grid"].items():
        assert r["fd one-sided"]["passes"] == n + 1
        assert r["fd central"]["passes"] == 2 * n
        assert r["forward mode"]["passes"] == n
        assert r["reverse mode"]["passes"] == m
    assert res["max_disagreement"] < 1e-12
    grid = res["grid"]
    t = {k: grid[k]["forward mode"]["seconds"] / grid[k]["reverse mode"]["seconds"]
         for k in ((1, 64), (64, 1))}
    assert t[1, 64] < 1 < t[64, 1]  # forward wins for n << m, reverse for n >> m
    figures_decode(res)


def test_xor_linear_at_chance_hidden_layer_separates(out):
    res = run_demo("xor", out)
    lin = res["2d_linear"]
    np.testing.assert_allclose(lin["probabilities"], 0.5, atol=1e-3)  # chance on every corner
    assert lin["loss"] == pytest.approx(np.log(2), abs=1e-4)
    assert lin["accuracy"] <= 0.75  # no line gets all four corners
    assert res["2d_hidden"]["accuracy"] == 1.0
    assert res["2d_hidden"]["loss"] < 0.05
    assert res["1d_linear"]["accuracy"] <= res["1d_linear"]["majority"] + 0.02
    assert res["1d_hidden"]["accuracy"] >= 0.97
    figures_decode(res)


def test_universal_construction_interpolates_and_converges(out):
    res = run_demo("universal-approximation", out)
    assert max(res["knot_errors"]) < 1e-12  # passes exactly through the knots
    errors = res["errors"]
    assert all(b < a for a, b in itertools.pairwise(errors))
    assert res["rate"] == pytest.approx(-2, abs=0.3)  # piecewise-linear: units^-2
    assert errors[-1] < 5e-3
    assert res["trained_error"] < 0.2
    figures_decode(res)


def test_activations_derivatives_and_vanishing_gradients(out):
    res = run_demo("activations", out)
    f = res["facts"]
    assert f["max sigmoid'"] == pytest.approx(0.25, abs=1e-6)
    assert f["max tanh'"] == pytest.approx(1.0, abs=1e-6)
    assert f["relu' values"] == [0.0, 1.0]
    assert f["softplus' - sigmoid"] < 1e-12
    assert f["tanh - (2 sigmoid(2x) - 1)"] < 1e-12
    r = res["ratios"]
    assert r["sigmoid"] < 1e-6  # layer 1 gets a vanishing share of layer 20's gradient
    assert 0.1 < r["tanh"] < 10
    assert 0.1 < r["relu"] < 10
    figures_decode(res)


def test_cli_runs_a_demo_into_out(tmp_path):
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "graph", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "x̄1  =  v̄-1           = 5.500" in done.stdout
    assert (tmp_path / "graph.png").exists()


def test_import_chainrule_stays_light():
    code = "import sys, chainrule; chainrule.draw_graph; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "False"
