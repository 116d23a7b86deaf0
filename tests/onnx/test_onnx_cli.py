"""`chainrule export` on a trained run, and the onnx package staying optional."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx_helpers import TOL, max_diff, run_cr  # noqa: E402
from reference import to_numpy  # noqa: E402

from chainrule.cli import main  # noqa: E402
from chainrule.training import evaluate_run  # noqa: E402


def test_cli_export_matches_eval_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The main job: `chainrule train` (default digits MLP, one epoch), `chainrule export`,
    and onnxruntime's test accuracy equal to `chainrule eval`'s."""
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--no-progress", "--out", str(run)]) == 0
    out = tmp_path / "digits.onnx"
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert main(["eval", str(run)]) == 0
    printed = re.search(r"test accuracy ([0-9.]+)", capsys.readouterr().out)
    assert printed is not None
    from chainrule.training import _Run, config_of, read_checkpoint

    state = read_checkpoint(run)
    cfg = config_of(state)
    assert (cfg.model, cfg.data, tuple(cfg.hidden)) == ("mlp", "digits", (256, 256))
    built = _Run(cfg)
    net, test = built.model, built.test_set
    net.load_state_dict(state["model"])
    x = np.stack([to_numpy(test[i][0]) for i in range(len(test))]).astype(np.float32)
    y = np.array([int(test[i][1]) for i in range(len(test))])
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"input": x})[0]
    assert max_diff(logits, run_cr(net, x)) < TOL
    acc = float((logits.argmax(1) == y).mean())
    _, want = evaluate_run(run)
    assert acc == pytest.approx(want, abs=1e-9)
    assert f"{acc:.4f}" == printed.group(1)


def test_cli_export_missing_run_is_an_error(tmp_path: Path) -> None:
    assert main(["export", str(tmp_path / "nothing")]) == 2


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)


def test_import_chainrule_does_not_import_onnx() -> None:
    res = _python("import sys, chainrule, chainrule.torch; import chainrule.onnx; "
                  "print('onnx' in sys.modules)")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_missing_extra_is_named() -> None:
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import numpy as np, chainrule as cr, io\n"
            "try:\n"
            "    cr.onnx.export(cr.nn.Linear(2, 1), np.ones((1, 2), np.float32), io.BytesIO())\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    res = _python(code)
    assert "pip install chainrule[onnx]" in res.stdout, res.stdout + res.stderr
