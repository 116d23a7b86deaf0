"""save / load: exact round trips, safetensors compatibility, corrupt files, atomic writes."""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.device import device
from chainrule.serialization import load, save

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64, np.float16,
          np.float32, np.float64, np.complex64]


def assert_same(got, want, where="obj"):
    """Exact equality, types included: arrays bit for bit with dtype and shape, NaN equal to NaN."""
    assert type(got) is type(want), f"{where}: {type(got)} != {type(want)}"
    if isinstance(want, cr.Tensor):
        assert got.requires_grad == want.requires_grad, where
        got, want = got.numpy(), want.numpy()
    if isinstance(want, np.ndarray | np.generic):
        assert got.dtype == want.dtype, where
        assert got.shape == want.shape, where
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), where
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1, got) == math.copysign(1, want)), where
    else:
        assert got == want, where


def array_of(dtypes: list) -> st.SearchStrategy[np.ndarray]:
    """Arrays of 0 to 3 dimensions (sides 0 to 3) of one of dtypes, any values (NaN included)."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
    return st.sampled_from(dtypes).flatmap(lambda dt: hnp.arrays(dt, shapes))


leaves = st.one_of(
    array_of(DTYPES),
    array_of(DTYPES).map(lambda a: a.reshape(-1)[0] if a.size else np.float32(1.5)),  # scalars
    array_of([np.float16, np.float32, np.float64]).map(cr.Tensor),
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
)
keys = st.one_of(st.text(max_size=6), st.integers(-3, 20), st.sampled_from(["a.b", "a", "b"]))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.dictionaries(keys, children, max_size=4),
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=st.dictionaries(keys, trees, max_size=5))
def test_round_trip_is_exact(tmp_path, obj):
    path = tmp_path / "state.safetensors"
    save(obj, path)
    assert_same(load(path), obj)


def test_module_and_optimizer_style_state_dicts(tmp_path):
    model = {"fc1.weight": np.ones((3, 2), np.float32), "bn.num_batches_tracked": np.array(7)}
    optim = {
        "state": {0: {"step": 3, "exp_avg": np.zeros((3, 2), np.float32)}, 1: {}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1],
                          "amsgrad": False, "maximize": False, "foreach": None}],
    }
    save({"model": model, "optimizer": optim, "epoch": 4}, tmp_path / "ckpt")
    got = load(tmp_path / "ckpt")
    assert_same(got["optimizer"], optim)
    assert list(got["optimizer"]["state"]) == [0, 1]
    assert_same(got["model"], model)
    assert got["epoch"] == 4


def test_file_is_plain_safetensors_with_dotted_names(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save({"fc1.weight": w, "block": {"conv": {"bias": w[0]}}, "lr": 0.1}, tmp_path / "m.st")
    flat = safetensors.numpy.load_file(tmp_path / "m.st")
    assert sorted(flat) == ["block.conv.bias", "fc1.weight"]
    np.testing.assert_array_equal(flat["fc1.weight"], w)
    np.testing.assert_array_equal(flat["block.conv.bias"], w[0])


def test_colliding_dotted_names_stay_apart(tmp_path):
    obj = {"a.b": np.zeros(1), "a": {"b": np.ones(1)}, 1: np.full(1, 2.0), "1": np.full(1, 3.0)}
    save(obj, tmp_path / "c.st")
    assert_same(load(tmp_path / "c.st"), obj)


def test_file_from_another_tool_loads_flat(tmp_path):
    safetensors.numpy.save_file({"x.y": np.ones(2, np.float16)}, tmp_path / "other.st")
    assert_same(load(tmp_path / "other.st"), {"x.y": np.ones(2, np.float16)})


def test_loaded_arrays_are_writable_and_own_their_memory(tmp_path):
    save({"w": np.ones((4, 4), np.float32)}, tmp_path / "w.st")
    w = load(tmp_path / "w.st")["w"]
    assert w.flags.writeable
    assert w.flags.owndata
    w += 1.0


def test_non_contiguous_and_big_endian_arrays(tmp_path):
    obj = {"t": np.arange(12.0).reshape(3, 4).T, "be": np.arange(3, dtype=">i4")}
    save(obj, tmp_path / "x.st")
    got = load(tmp_path / "x.st")
    np.testing.assert_array_equal(got["t"], obj["t"])
    np.testing.assert_array_equal(got["be"], obj["be"])


@pytest.mark.parametrize(("obj", "message"), [
    ({"a": {"b": object()}}, "object at 'a.b'"),
    ({"s": {1, 2}}, "set at 's'"),
    ({(1, 2): 3}, "keys must be str or int"),
    ({True: 3}, "keys must be str or int"),
    ({"x": np.array(["a"])}, "dtype <U1 at 'x'"),
    ({"x": np.zeros(2, np.complex128)}, "complex128"),
])
def test_unsupported_values_raise_and_write_nothing(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "bad.st")
    assert list(tmp_path.iterdir()) == []


# ----- corrupt files -----

def _good_file(tmp_path: Path) -> bytes:
    save({"w": np.arange(100, dtype=np.float32), "meta": {"n": 1}}, tmp_path / "good.st")
    return (tmp_path / "good.st").read_bytes()


@pytest.mark.parametrize("cut", [0, 4, 8, 20, -1, -50])
def test_truncated_file_raises_value_error_naming_path(tmp_path, cut):
    data = _good_file(tmp_path)
    path = tmp_path / "cut.st"
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match=r"cut\.st"):
        load(path)


def test_garbage_and_bad_structure_raise_value_error(tmp_path):
    (tmp_path / "junk.st").write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match=r"junk\.st"):
        load(tmp_path / "junk.st")
    data = _good_file(tmp_path)
    (tmp_path / "hdr.st").write_bytes(data[:8] + b"#" + data[9:])
    with pytest.raises(ValueError, match=r"hdr\.st"):
        load(tmp_path / "hdr.st")
    safetensors.numpy.save_file({"w": np.ones(1)}, tmp_path / "meta.st",
                                metadata={"chainrule.structure": '{"array": "missing"}'})
    with pytest.raises(ValueError, match=r"meta\.st.*structure"):
        load(tmp_path / "meta.st")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.st")


# ----- atomic writes -----

@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    path = tmp_path / "ckpt.st"
    save({"version": 1}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated {failing} failure")

    if failing == "write":
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                boom()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Failing(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        save({"version": 2, "w": np.ones(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.st"]
    assert load(path) == {"version": 1}


def test_new_file_gets_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        save({"a": 1}, tmp_path / "p.st")
    finally:
        os.umask(umask)
    assert (tmp_path / "p.st").stat().st_mode & 0o777 == 0o644


def test_never_pickles(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("dumps", "dump", "loads", "load", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    obj = {"w": np.ones(3), "t": cr.tensor([1.0, 2.0]), "n": [1, 2.5, None, "s"]}
    save(obj, tmp_path / "np.st")
    assert_same(load(tmp_path / "np.st"), obj)


# ----- file objects, torch.save/torch.load's arguments -----

def _checkpoint() -> dict:
    """A training checkpoint as PyTorch scripts write one: several state dicts and counters."""
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.Linear(4, 2))
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(cr.randn(5, 3)).sum()
    loss.backward()
    opt.step()
    return {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "best": (0.25, "val"), "history": [1.5, 0.75], "weights": cr.tensor([1.0, 2.0]),
            "note": None, "done": False}


def test_checkpoint_round_trips_through_paths_and_file_objects(tmp_path):
    ckpt = _checkpoint()
    save(ckpt, str(tmp_path / "a.pt"))
    assert_same(load(str(tmp_path / "a.pt")), ckpt)
    with open(tmp_path / "b.pt", "wb") as f:
        save(ckpt, f)
    with open(tmp_path / "b.pt", "rb") as f:
        assert_same(load(f), ckpt)
    buf = io.BytesIO()
    save(ckpt, buf)
    buf.seek(0)
    got = load(buf, map_location="cpu", weights_only=True)
    assert_same(got, ckpt)
    assert isinstance(got["best"], tuple)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.Linear(4, 2))
    model.load_state_dict(got["model"])


@given(obj=trees)
@settings(max_examples=40, deadline=None)
def test_bytes_io_round_trip_is_exact(obj):
    buf = io.BytesIO(b"prefix")
    buf.seek(0, io.SEEK_END)
    save(obj, buf)
    buf.seek(len(b"prefix"))
    assert_same(load(buf), obj)


def test_a_bare_tensor_round_trips(tmp_path):
    t = cr.tensor([[1.0, 2.0]], requires_grad=True)
    save(t, tmp_path / "t.pt")
    assert_same(load(tmp_path / "t.pt"), t)


@pytest.mark.parametrize("map_location", [
    None, "cpu", "cpu:0", device("cpu"),
    {"cuda:0": "cpu"}, {"cpu": "cpu"}, lambda storage, loc: storage, lambda storage, loc: None,
])
def test_map_location_to_the_cpu(tmp_path, map_location):
    obj = {"t": cr.tensor([1.0, 2.0]), "a": np.ones(2)}
    save(obj, tmp_path / "m.pt")
    assert_same(load(tmp_path / "m.pt", map_location=map_location), obj)


def test_map_location_callable_may_replace_tensors(tmp_path):
    save({"t": cr.tensor([1.0, 2.0])}, tmp_path / "m.pt")
    got = load(tmp_path / "m.pt", map_location=lambda t, loc: t * 2.0 if loc == "cpu" else None)
    assert got["t"].tolist() == [2.0, 4.0]


@pytest.mark.parametrize("map_location", [
    "cuda", "cuda:1", {"cpu": "cuda:0"}, "mps", lambda t, loc: "cuda",
])
def test_map_location_to_another_device_is_a_clear_error(tmp_path, map_location):
    save({"t": cr.tensor([1.0])}, tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match=r"(cuda|mps).* not available"):
        load(tmp_path / "m.pt", map_location=map_location)


def test_whole_modules_and_objects_are_refused_naming_state_dict(tmp_path):
    model = cr.nn.Linear(2, 2)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    for obj in (model, {"model": model}, opt, [object()]):
        with pytest.raises(TypeError, match=r"state_dict\(\)"):
            save(obj, tmp_path / "x.pt")
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        save(model, io.BytesIO())
    assert list(tmp_path.iterdir()) == []


def test_pytorch_pickle_checkpoint_is_refused_without_unpickling(tmp_path):
    import torch

    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(ValueError, match="never unpickles"):
        load(tmp_path / "torch.pt")


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="path or a binary file"):
        save({}, 3)
    with pytest.raises(TypeError, match="path or a binary file"):
        load(3)
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "x", map_location=3)
    buf = io.BytesIO()
    save({}, buf)
    buf.seek(0)
    with pytest.raises(ValueError, match="mmap"):
        load(buf, mmap=True)
    save({"a": 1}, tmp_path / "p.pt")
    assert load(tmp_path / "p.pt", mmap=True) == {"a": 1}
