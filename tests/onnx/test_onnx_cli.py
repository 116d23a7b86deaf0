"""`chainrule export` on a trained run, and the onnx package staying optional."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from chainrule.cli import main  # noqa: E402
from chainrule.training import TrainConfig, evaluate_run, train  # noqa: E402


def test_cli_export_matches_eval_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    train(TrainConfig(hidden=(32,), epochs=1, batch_size=64, progress=False, out=str(run)),
          log=lambda m: None)
    out = tmp_path / "digits.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    from chainrule.datasets import digits

    test = digits("test")
    x = np.stack([np.asarray(test[i][0]) for i in range(len(test))]).astype(np.float32)
    y = np.array([int(test[i][1]) for i in range(len(test))])
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    acc = float((sess.run(None, {"input": x})[0].argmax(1) == y).mean())
    _, want = evaluate_run(run)
    assert acc == pytest.approx(want, abs=1e-9)


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
