"""Smoke tests: every example runs (quick settings) and reaches its claim."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_survey_trace():
    out = _run(str(EXAMPLES / "survey_trace.py"))
    assert "11.652" in out
    assert "5.500" in out
    assert "1.716" in out


def test_backprop_by_hand():
    assert "agree" in _run(str(EXAMPLES / "backprop_by_hand.py"))


def test_xor_1d():
    out = _run(str(EXAMPLES / "xor_1d.py"))
    assert float(out.strip().splitlines()[-1].split()[-1]) > 0.95


def test_fit_1d_function(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "fit.png"
    out = _run(str(EXAMPLES / "fit_1d_function.py"), "--steps", "1500", "--plot", str(plot))
    assert float(out.split("mse on a fine grid:")[1].split()[0]) < 0.01
    assert plot.stat().st_size > 0


@pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST data folder not present")
def test_mnist_784_100_10():
    out = _run(str(EXAMPLES / "mnist_784_100_10.py"), "--data-dir", str(MNIST),
               "--max-steps", "300")
    assert float(out.strip().splitlines()[-1].split()[-1]) > 0.85


def test_echo_state():
    out = _run(str(EXAMPLES / "echo_state.py"), "--steps", "600")
    assert float(out.split("ridge readout:")[1].split("test nrmse")[1].split()[0]) < 0.01
    assert float(out.strip().splitlines()[-1].split()[-1]) < 0.1


def test_rnn_gradient_clipping():
    out = _run(str(EXAMPLES / "rnn_gradient_clipping.py"), "--steps", "100")
    assert "without clipping:" in out
    assert "diverged: loss inf" in out
    assert "trained: loss" in out


def test_char_lstm():
    out = _run(str(EXAMPLES / "char_lstm.py"), "--steps", "120")
    first, last = (float(v) for v in
                   out.split("first 20 steps ")[1].replace(", last 20 steps", "").split())
    assert last < 0.5 * first
