"""The training loop: the main job's accuracy, run folders, exact resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.training import TrainConfig, TrainError, train

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def _small(out: Path, **kw) -> TrainConfig:
    base = dict(hidden=(32,), epochs=2, batch_size=64, checkpoint_every=5, progress=False,
                out=str(out))
    base.update(kw)
    return TrainConfig(**base)


def test_default_main_job_reaches_97_percent(tmp_path):
    result = train(TrainConfig(out=str(tmp_path / "run"), progress=False), log=lambda m: None)
    assert result.test_accuracy >= 0.97
    assert result.seconds < 60


def test_run_folder_has_checkpoint_metrics_and_plot(tmp_path):
    result = train(_small(tmp_path / "run"), log=lambda m: None)
    run = Path(result.run_dir)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"} <= set(rows[0])
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = cr.load(run / "checkpoint.safetensors")
    assert state["model"]["1.weight"].shape == (32, 64)


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from chainrule.training import TrainConfig, train
    cfg = TrainConfig(hidden=(32,), epochs=2, batch_size=64, checkpoint_every=5,
                      progress=False, out=sys.argv[1])
    def kill(step):
        if step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
    train(cfg, on_step=kill, log=lambda m: None)
""")


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    full = train(_small(tmp_path / "full"), log=lambda m: None)
    killed = tmp_path / "killed"
    # 23 steps per epoch at batch 64: step 37 is mid-epoch 2, two steps past a checkpoint
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(killed), "37"],
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert cr.load(killed / "checkpoint.safetensors")["progress"]["step"] == 35
    resumed = train(resume=killed, log=lambda m: None)
    want = cr.load(tmp_path / "full" / "checkpoint.safetensors")["model"]
    got = cr.load(killed / "checkpoint.safetensors")["model"]
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert resumed.history == full.history


def test_bad_options_raise_train_error(tmp_path):
    with pytest.raises(TrainError, match="epochs"):
        train(_small(tmp_path, epochs=0))
    with pytest.raises(TrainError, match="unknown model 'nope'"):
        train(_small(tmp_path, model="nope"))
    with pytest.raises(TrainError, match="does not exist"):
        train(_small(tmp_path, data="mnist", data_dir=str(tmp_path / "missing")))
    with pytest.raises(TrainError, match="no checkpoint"):
        train(resume=tmp_path / "nothing-here")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "chainrule.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--epochs", "0"], "--epochs must be positive"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--data", "mnist", "--data-dir", "missing"], "'missing' does not exist"),
        (["train", "--lr", "abc"], "invalid float value: 'abc'"),
        (["eval", "no-such-run"], "no checkpoint"),
        (["train", "--device", "foo"], "--device 'foo'"),
        (["train", "--device", "cuda:7"], "--device 'cuda:7'"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(tmp_path, args, needle):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_cli_corrupt_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    for args in (["eval", str(run)], ["train", "--resume", str(run)]):
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 2
        assert "corrupt checkpoint" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_cli_train_then_eval(tmp_path):
    out = tmp_path / "run"
    proc = _cli("train", "--epochs", "1", "--hidden", "16", "--no-progress", "--out", str(out),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    proc = _cli("eval", str(out), cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("test accuracy")


def test_help_lists_every_command(tmp_path):
    proc = _cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("train", "eval", "trace"):
        assert command in proc.stdout


def test_activation_option_reaches_the_mlp_and_its_checkpoint(tmp_path):
    with pytest.raises(TrainError, match="unknown activation 'swish2'"):
        train(_small(tmp_path, activation="swish2"))
    proc = _cli("train", "--epochs", "1", "--hidden", "16", "--activation", "tanh",
                "--no-progress", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from chainrule.training import _Run, config_of, read_checkpoint

    cfg = config_of(read_checkpoint(tmp_path / "run"))
    assert cfg.activation == "tanh"
    cfg.validate()
    kinds = {type(m).__name__ for m in _Run(cfg).model}
    assert "Tanh" in kinds
    assert "ReLU" not in kinds
    proc = _cli("eval", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--activation" in _cli("train", "--help", cwd=tmp_path).stdout
