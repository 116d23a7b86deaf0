"""The architecture and training demos against the numbers their lectures state or imply."""

from __future__ import annotations

import pytest

from chainrule.demos import run_demo

from .test_demos import figures_decode


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("demos")


def test_rnn_gradients_follow_rho_to_the_t_and_clipping_trains(out):
    res = run_demo("rnn-gradients", out)
    for rho, err in res["rho_power_error"].items():
        assert err < 1e-10, rho  # ||dh_T/dh_0|| = ||W^T|| = rho^T for a symmetric W
    lin = res["linear"]
    assert lin[0.9][-1] < 0.01 < 100 < lin[1.1][-1]  # vanishes below 1, explodes above
    assert lin[1.0][-1] == pytest.approx(1.0, abs=1e-9)
    for rho, norms in res["tanh"].items():  # tanh' <= 1: never above rho^T
        assert all(n <= rho ** t * (1 + 1e-9) for t, n in enumerate(norms, 1))
    assert res["tanh"][1.1][-1] < lin[1.1][-1] / 5  # saturation caps the growth
    plain, clipped = res["runs"]["without clipping"], res["runs"]["clip_grad_norm_(1.0)"]
    assert plain["max_norm"] > 1e3  # one exploding gradient
    assert not plain["final"] < 0.3  # wrecked: no better than the mean predictor (1/3), or NaN
    assert clipped["final"] < 0.1
    figures_decode(res)


def test_cnn_equivariance_pooling_and_receptive_field(out):
    res = run_demo("cnn-properties", out)
    assert res["equivariance_error"] < 1e-6  # shift then convolve = convolve then shift
    assert res["rotation_error"] > 0.1  # but not for a rotation
    assert res["global_max_pool_change"] < 1e-6  # a global max pool ignores the shift
    assert res["detector_changed"] == 1.0  # every detector value changes ...
    assert 0.3 < res["pool_changed"] < 0.7  # ... about half of the width-3 max pool's
    for depth, (rows, cols, filled) in res["field_sizes"].items():
        assert rows == cols == 1 + 2 * depth
        assert filled
    figures_decode(res)


def test_echo_state_predicts_and_radius_trades_memory_for_stability(out):
    res = run_demo("echo-state", out)
    assert res["prediction_nrmse"] < 0.02  # only the readout was trained
    recall = res["recall_nrmse"]
    best = min(recall, key=recall.get)
    assert 0.5 <= best <= 1.1  # "around some reasonably small value"
    assert recall[best] < 0.35
    assert recall[0.1] > 0.9  # too small: forgets within a few steps
    assert recall[2.0] > 0.9  # too large: no echo-state property
    gap = res["state_gap"]
    assert all(gap[r] < 1e-8 for r in gap if r <= 1.1)  # the initial state is forgotten
    assert gap[2.0] > 1.0  # ... and here it is not
    figures_decode(res)


def test_optimizers_steps_per_pass_and_ordering(out):
    res = run_demo("optimizers", out)
    steps = res["steps"]
    assert list(steps.values()) == [25, 25 * 512, 25 * 32, 25 * 32, 25 * 32]
    final = {name: ex[-1] for name, ex in res["excess"].items()}
    gd, sgd1, mb, mom, adam = final.values()
    assert all(ex[-1] < ex[0] for ex in res["excess"].values())
    assert max(sgd1, mb, mom, adam) < gd  # per pass, stochastic steps win
    assert mom < mb / 10  # momentum at the same learning rate: the flat directions
    assert adam < min(gd, sgd1, mb, mom)
    figures_decode(res)


def test_spirals_boundary_improves_as_training_proceeds(out):
    res = run_demo("spirals", out)
    acc = list(res["accuracy"].values())
    assert acc[0] < 0.65  # the untrained net: about chance
    assert acc[-1] == 1.0
    assert acc[-1] >= acc[len(acc) // 2] > acc[0]
    assert list(res["test_accuracy"].values())[-1] > 0.97  # unseen points of the same spirals
    assert res["linear"] < 0.7  # no line separates them
    figures_decode(res)
