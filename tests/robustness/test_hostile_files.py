"""Hostile checkpoint files, generated here (never stored): each is refused with one clear error.

Raw files attack ``cr.load`` (deep JSON, FIFOs, devices, lying sizes); well-formed checkpoints
with wrong metadata attack ``chainrule eval`` and ``train --resume`` (each bad field is named,
nothing is allocated from a config the file's tensors do not back, NaN weights are caught).
"""

from __future__ import annotations

import copy
import io
import json
import os
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import remove_stale_temporaries
from chainrule.training import CHECKPOINT, TrainConfig, TrainError, evaluate_run, train

DEEP = 100_000


def _safetensors(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The checkpoint of a tiny finished run (MLP on xor, one epoch)."""
    out = tmp_path_factory.mktemp("base") / "run"
    train(TrainConfig(data="xor", hidden=(4,), epochs=1, batch_size=128, progress=False,
                      out=str(out)), log=lambda m: None)
    return cr.load(out / CHECKPOINT)


def _write_run(tmp_path: Path, state: dict[str, Any], name: str = "run") -> Path:
    run = tmp_path / name
    run.mkdir()
    cr.save(state, run / CHECKPOINT)
    return run


def _with_json(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    state = copy.deepcopy(base)
    extra = json.loads(state["json"])
    for key, value in changes.items():
        if key.startswith("config."):
            extra["config"][key.removeprefix("config.")] = value
        else:
            extra[key] = value
    state["json"] = json.dumps(extra)
    return state


# ----- raw files: cr.load -----

@pytest.mark.parametrize("data", [
    _safetensors(b"[" * DEEP + b"]" * DEEP),
    _safetensors(b'{"__metadata__": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}"),
    _safetensors(b"\xff" * 8),
    _safetensors(b'{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', b"\0" * 4),
    _safetensors(b'{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}}'),
    struct.pack("<Q", 2 ** 63) + b"{}",
    b"\x01\x02",
], ids=["deep-header", "deep-metadata", "not-json", "short-body", "bad-offsets", "huge-header",
        "tiny"])
def test_corrupt_files_raise_value_error(tmp_path, data):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        cr.load(path)
    with pytest.raises(ValueError, match="BytesIO"):
        cr.load(io.BytesIO(data))


def test_deep_structure_metadata_is_a_value_error(tmp_path):
    deep = '{"list":[' * DEEP + "]}" * DEEP
    meta = json.dumps({"__metadata__": {"chainrule.format": "1", "chainrule.structure": deep}})
    path = tmp_path / "deep.safetensors"
    path.write_bytes(_safetensors(meta.encode()))
    with pytest.raises(ValueError, match="corrupt chainrule structure"):
        cr.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_device_and_directory_are_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    for name in ("fifo", "zero", "."):
        with pytest.raises(ValueError, match="not a regular file"):
            cr.load(tmp_path / name)


def test_reads_stop_at_the_declared_size(tmp_path):
    buf = io.BytesIO()
    cr.save({"w": np.arange(3.0)}, buf)
    stream = io.BytesIO(buf.getvalue() + b"trailing data of another record")
    np.testing.assert_array_equal(cr.load(stream)["w"], np.arange(3.0))
    assert stream.read() == b"trailing data of another record"
    path = tmp_path / "t.safetensors"
    path.write_bytes(buf.getvalue() + b"junk")
    with pytest.raises(ValueError, match="declares"):
        cr.load(path)
    with open("/dev/zero", "rb") as zero, pytest.raises(ValueError, match="/dev/zero"):
        cr.load(zero)


def test_stale_temporaries_are_removed_and_others_kept(tmp_path, base):
    run = _write_run(tmp_path, _with_json(base, **{"config.epochs": 2}))
    stale = run / f".{CHECKPOINT}.0123456789ab.tmp"
    other = run / f".{CHECKPOINT}.notmine.tmp"
    stale.write_bytes(b"partial")
    other.write_bytes(b"keep")
    assert remove_stale_temporaries(run / CHECKPOINT) == [stale]
    stale.write_bytes(b"partial")
    train(resume=run, log=lambda m: None)
    assert not stale.exists()
    assert other.exists()


# ----- well-formed checkpoints with wrong metadata: eval and resume -----

def _json_case(**changes: Any) -> Any:
    return lambda base: _with_json(base, **changes)


def _state_case(key: str, value: Any) -> Any:
    def make(base: dict[str, Any]) -> dict[str, Any]:
        state = copy.deepcopy(base)
        target = state
        *path, last = key.split(".")
        keys = [int(k) if k.isdigit() else k for k in (*path, last)]
        for part in keys[:-1]:
            target = target[part]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return state
    return make


def _no_config(base: dict[str, Any]) -> dict[str, Any]:
    state = copy.deepcopy(base)
    state["json"] = json.dumps({"rng": json.loads(state["json"])["rng"], "history": []})
    return state


def _deep_json(base: dict[str, Any]) -> dict[str, Any]:
    state = copy.deepcopy(base)
    state["json"] = "[" * DEEP + "]" * DEEP
    return state


BAD_METADATA = {
    "missing-config": (_no_config, "no config"),
    "config-a-list": (_json_case(config=[1]), "config must be an object"),
    "unknown-config-key": (_json_case(**{"config.bogus": 1}), "unknown fields 'bogus'"),
    "epochs-a-string": (_json_case(**{"config.epochs": "x"}), "'epochs' must be an int"),
    "lr-a-list": (_json_case(**{"config.lr": [1]}), "'lr' must be a number"),
    "hidden-strings": (_json_case(**{"config.hidden": ["a"]}), "'hidden' must be a list"),
    "unknown-model": (_json_case(**{"config.model": "nope"}), "unknown model 'nope'"),
    "unknown-optimizer": (_json_case(**{"config.optimizer": "nope"}), "unknown optimizer"),
    "negative-hidden": (_json_case(**{"config.hidden": [-5]}), "--hidden widths must be >= 0"),
    "rng-a-number": (_json_case(rng=5), "'rng'"),
    "rng-bad-state": (_json_case(rng={"bit_generator": "PCG64", "state": {"state": "x", "inc": 1},
                                      "has_uint32": 0, "uinteger": 0}), "'rng'"),
    "unknown-json-key": (_json_case(extra=1), "unknown ['extra']"),
    "history-strings": (_json_case(history=["x"]), "'history'"),
    "deep-json": (_deep_json, "nested too deeply"),
    "missing-model": (_state_case("model", KeyError), "missing ['model']"),
    "progress-negative": (_state_case("progress.epoch", -1), "'progress.epoch'"),
    "progress-string": (_state_case("progress.loss", "x"), "'progress.loss'"),
    "loader-string": (_state_case("loader.position", "x"), "'loader.position'"),
    "model-not-tensors": (_state_case("model", [1, 2]), "'model'"),
}


@pytest.mark.parametrize("case", BAD_METADATA, ids=str)
def test_bad_metadata_is_named_on_eval_and_resume(tmp_path, base, case):
    make, needle = BAD_METADATA[case]
    run = _write_run(tmp_path, make(base))
    with pytest.raises(TrainError, match=r"corrupt checkpoint|checkpoint config") as e:
        evaluate_run(run)
    assert needle in str(e.value)
    with pytest.raises(TrainError) as e:
        train(resume=run, log=lambda m: None)
    assert needle in str(e.value)


BAD_RESUME_STATE = {
    "t-max-zero": ("scheduler.T_max", 0, "'scheduler.T_max'"),
    "scheduler-unknown-key": ("scheduler.step", 5, "unknown ['step']"),
    "lr-a-string": ("optimizer.param_groups.0.lr", "x", "param_groups.0.lr"),
    "betas-strings": ("optimizer.param_groups.0.betas", ("a", "b"), "param_groups.0.betas"),
    "state-wrong-shape": ("optimizer.state.0.exp_avg", np.zeros(7, np.float32), "exp_avg"),
    "state-bad-index": ("optimizer.state.99", {"step": 1.0}, "'optimizer.state.99'"),
}


@pytest.mark.parametrize("case", BAD_RESUME_STATE, ids=str)
def test_bad_optimizer_and_scheduler_state_is_named_on_resume(tmp_path, base, case):
    key, value, needle = BAD_RESUME_STATE[case]
    state = _state_case(key, value)(_with_json(base, **{"config.epochs": 2}))
    run = _write_run(tmp_path, state)
    with pytest.raises(TrainError, match="corrupt checkpoint") as e:
        train(resume=run, log=lambda m: None)
    assert needle in str(e.value)


@pytest.mark.parametrize("hidden", [[1_000_000, 1_000_000], [3000, 3000], [4, 4000]])
def test_config_cannot_size_the_model_past_the_files_tensors(tmp_path, base, hidden):
    run = _write_run(tmp_path, _with_json(base, **{"config.hidden": hidden}))
    tracemalloc.start()
    try:
        for attempt in (lambda: evaluate_run(run), lambda: train(resume=run)):
            with pytest.raises(TrainError, match=r"the file holds|over the limit"):
                attempt()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6


def test_tensor_shapes_must_match_the_config(tmp_path, base):
    state = copy.deepcopy(base)
    state["model"]["1.weight"] = np.zeros((5, 2), np.float32)
    run = _write_run(tmp_path, state)
    with pytest.raises(TrainError, match=r"1\.weight"):
        evaluate_run(run)


def test_nan_weights_warn_on_eval_and_are_refused_on_resume(tmp_path, base):
    state = _with_json(base, **{"config.epochs": 2})
    state["model"]["1.weight"][0, 0] = np.nan
    run = _write_run(tmp_path, state)
    with pytest.warns(RuntimeWarning, match=r"NaN/Inf in 1\.weight"):
        evaluate_run(run)
    with pytest.raises(TrainError, match=r"NaN/Inf in model\.1\.weight.*--allow-nan"):
        train(resume=run, log=lambda m: None)
    # allowed, the NaN reaches the loss: training stops as diverged, the checkpoint untouched
    before = (run / CHECKPOINT).read_bytes()
    with pytest.raises(TrainError, match="diverged"):
        train(resume=run, log=lambda m: None, allow_nan=True)
    assert (run / CHECKPOINT).read_bytes() == before
