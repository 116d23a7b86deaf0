"""Bad command-line input: one line on stderr naming the problem, exit status 2, no traceback.

Runs ``chainrule.cli.main`` in-process (fast); only the file-size-limit case needs a subprocess.
"""

from __future__ import annotations

import gzip
import json
import resource
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.training import CHECKPOINT

FAST = ["train", "--data", "xor", "--hidden", "4", "--epochs", "1", "--batch-size", "128",
        "--no-progress"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        status = main(list(args))
    except SystemExit as e:  # argparse's own errors
        status = e.code
    return status, capsys.readouterr().err


def _idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)


def _mnist(root: Path, images: np.ndarray, labels: np.ndarray) -> str:
    root.mkdir()
    for split in ("train", "t10k"):
        _idx(root / f"{split}-images-idx3-ubyte", images)
        _idx(root / f"{split}-labels-idx1-ubyte", labels)
    return str(root)


def _empty_mnist(tmp: Path) -> list[str]:
    root = _mnist(tmp / "empty", np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    return ["--data", "mnist", "--data-dir", root]


def _tiny_images(tmp: Path) -> list[str]:
    root = _mnist(tmp / "tiny", np.zeros((4, 1, 1), np.uint8), np.arange(4, dtype=np.uint8))
    return ["--data", "mnist", "--data-dir", root, "--model", "lenet5"]


def _gzip_bomb(tmp: Path) -> list[str]:
    """Images declared as 4 of 28x28, then 20 MB of zeros (20 kB compressed)."""
    root = tmp / "bomb"
    root.mkdir()
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 4, 28, 28)
    (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(20_000_000)))
    _idx(root / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    return ["--data", "mnist", "--data-dir", str(root)]


def _huge_dims(tmp: Path) -> list[str]:
    root = tmp / "huge"
    root.mkdir()
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 100_000, 10_000, 10_000)
    (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(1000)))
    _idx(root / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    return ["--data", "mnist", "--data-dir", str(root)]


def _out_file(tmp: Path) -> list[str]:
    (tmp / "taken").write_text("x")
    return ["--out", str(tmp / "taken")]


def _out_under_file(tmp: Path) -> list[str]:
    (tmp / "taken").write_text("x")
    return ["--out", str(tmp / "taken" / "run")]


# (extra args or a function of tmp_path making them, text the error line must contain)
BAD_TRAIN: dict[str, tuple[list[str] | Callable[[Path], list[str]], str]] = {
    "weight-decay-nan": (["--weight-decay", "nan"], "--weight-decay must be a finite number"),
    "weight-decay-negative": (["--weight-decay", "-1"], "--weight-decay must be a finite"),
    "hidden-negative": (["--hidden", "-5"], "--hidden widths must be >= 0"),
    "hidden-zero-not-alone": (["--hidden", "0", "8"], "must stand alone"),
    "hidden-huge": (["--hidden", "100000", "100000"], "over the limit"),
    "seed-negative": (["--seed", "-1"], "--seed must be in [0, 2**63)"),
    "lr-inf": (["--lr", "inf"], "--lr must be a positive finite number"),
    "lr-nan": (["--lr", "nan"], "--lr must be"),
    "lr-not-a-number": (["--lr", "abc"], "invalid float value"),
    "dropout-nan": (["--dropout", "nan"], "--dropout must be in [0, 1)"),
    "epochs-zero": (["--epochs", "0"], "--epochs must be positive"),
    "out-is-a-file": (_out_file, "is an existing file"),
    "out-under-a-file": (_out_under_file, "which is a file"),
    "out-name-too-long": (["--out", "r" * 300], "longer than this file system's limit"),
    "idx-zero-images": (_empty_mnist, "holds 0 samples"),
    "idx-gzip-bomb": (_gzip_bomb, "IDX size mismatch"),
    "idx-huge-dims": (_huge_dims, "bytes of gzip data hold"),
    "lenet5-on-vectors": (["--model", "lenet5"], "--model lenet5 needs inputs of rank 3"),
    "lenet5-on-1x1-images": (_tiny_images, "at least 2x2 pixels"),
    "unknown-model": (["--model", "nope"], "unknown model 'nope'"),
}


@pytest.mark.parametrize("case", BAD_TRAIN, ids=str)
def test_bad_train_input_is_one_line_with_status_2(tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    extra, needle = BAD_TRAIN[case]
    args = extra(tmp_path) if callable(extra) else extra
    status, err = _cli(capsys, *FAST, *args)
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_gzip_bomb_is_not_decompressed(tmp_path):
    import tracemalloc

    from chainrule.datasets.idx import read_idx

    root = Path(_gzip_bomb(tmp_path)[-1])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="IDX size mismatch"):
            read_idx(root / "train-images-idx3-ubyte.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5e6


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "run"
    status, err = _cli(capsys, *FAST, "--out", str(out))
    assert status == 0, err
    return out


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "lenet5"], "--model 'lenet5' (the run has 'mlp')"),
    (["--data", "spirals", "--model", "gru"], "--data 'spirals' (the run has 'xor')"),
    (["--hidden", "8"], "--hidden (8,) (the run has (4,))"),
    (["--epochs", "0"], "--epochs 0: the run"),
])
def test_resume_refuses_conflicting_options(run, capsys, args, needle):
    status, err = _cli(capsys, "train", "--resume", str(run), *args)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


def test_resume_with_epochs_extends_the_run(run, capsys):
    status, err = _cli(capsys, "train", "--resume", str(run), "--epochs", "3", "--model", "mlp",
                       "--data", "xor", "--no-progress")
    assert status == 0, err
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2, 3]
    assert cr.load(run / CHECKPOINT)["progress"]["epoch"] == 3


def test_hidden_zero_is_logistic_regression(tmp_path, capsys):
    out = tmp_path / "logreg"
    status, err = _cli(capsys, *FAST, "--hidden", "0", "--out", str(out))
    assert status == 0, err
    model = cr.load(out / CHECKPOINT)["model"]
    assert [tuple(np.shape(v)) for v in model.values()] == [(2, 1), (2,)]


def test_divergence_stops_keeping_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "diverge"
    status, err = _cli(capsys, "train", "--data", "xor", "--hidden", "4", "--epochs", "3",
                       "--optimizer", "sgd", "--lr", "1e30", "--checkpoint-every", "1",
                       "--no-progress", "--out", str(out))
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "training diverged" in err
    if (out / CHECKPOINT).exists():  # a checkpoint, if any was written, holds finite weights
        state = cr.load(out / CHECKPOINT)
        assert all(np.isfinite(v).all() for v in state["model"].values())


def test_eval_of_a_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    deep = b"[" * 100_000 + b"]" * 100_000
    (bad / CHECKPOINT).write_bytes(struct.pack("<Q", len(deep)) + deep)
    status, err = _cli(capsys, "eval", str(bad))
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "nested too deeply" in err


def test_nan_weights_warn_in_one_line_on_eval(run, capsys):
    state = cr.load(run / CHECKPOINT)
    state["model"]["1.weight"][:] = np.inf
    cr.save(state, run / CHECKPOINT)
    status, err = _cli(capsys, "eval", str(run))
    assert status == 0
    assert err.strip() == f"chainrule eval: warning: checkpoint in {str(run)!r}: NaN/Inf in " \
        "1.weight"
    status, err = _cli(capsys, "train", "--resume", str(run), "--epochs", "2")
    assert status == 2
    assert "--allow-nan" in err


_FULL_DISK = """
import resource, sys
from chainrule.cli import main
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file-size limits")
def test_full_disk_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK, *FAST, "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "cannot write" in proc.stderr
