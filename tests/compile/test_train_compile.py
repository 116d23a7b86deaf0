"""`chainrule train --compile/--no-compile`: the same run either way, and resume across the
switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import build_parser
from chainrule.training import TrainConfig, train

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


class _Stop(Exception):
    pass


def _cfg(out: Path, compile: bool, model: str = "mlp") -> TrainConfig:
    return TrainConfig(model=model, hidden=(32,), epochs=2, batch_size=64, checkpoint_every=5,
                       progress=False, out=str(out), compile=compile)


def _weights(run: Path) -> dict:
    return cr.load(run / "checkpoint.safetensors")["model"]


def _stop_at(n: int) -> object:
    def on_step(step: int) -> None:
        if step == n:
            raise _Stop

    return on_step


@pytest.mark.parametrize("first", [False, True])
def test_resume_across_the_switch_matches_an_uninterrupted_run(tmp_path: Path,
                                                               first: bool) -> None:
    full = train(_cfg(tmp_path / "full", not first), log=lambda m: None)
    run = tmp_path / "run"
    with pytest.raises(_Stop):  # 23 steps an epoch: stopped mid-epoch 2, after step 35's save
        train(_cfg(run, first), on_step=_stop_at(37), log=lambda m: None)
    resumed = train(resume=run, overrides={"compile": not first}, log=lambda m: None)
    want, got = _weights(tmp_path / "full"), _weights(run)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert resumed.history == full.history


@pytest.mark.parametrize("model", ["lenet5", "resnet"])
def test_compiled_and_eager_runs_are_identical(tmp_path: Path, model: str) -> None:
    runs = []
    for compile in (True, False):
        cfg = _cfg(tmp_path / str(compile), compile, model)
        cfg.epochs = 1
        runs.append(train(cfg, log=lambda m: None).history)
    assert runs[0] == runs[1]
    want, got = _weights(tmp_path / "False"), _weights(tmp_path / "True")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_cli_flag() -> None:
    parse = build_parser().parse_args
    assert parse(["train"]).compile is TrainConfig().compile
    assert parse(["train", "--no-compile"]).compile is False
    assert parse(["train", "--compile"]).compile is True
