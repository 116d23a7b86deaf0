"""save / load: exact round trips, safetensors compatibility, corrupt files, atomic writes."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import needs_no_cuda, to_numpy

import chainrule as cr
from chainrule.backend import asnumpy, is_device_array
from chainrule.device import device
from chainrule.serialization import load, save

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64, np.float16,
          np.float32, np.float64, np.complex64]


def assert_same(got, want, where="obj"):
    """Exact equality, types included: arrays bit for bit with dtype and shape, NaN equal to NaN.
    An array saved from a CUDA device loads as an ndarray (on the host)."""
    if is_device_array(want) and type(got) is np.ndarray:
        want = asnumpy(want)
    assert type(got) is type(want), f"{where}: {type(got)} != {type(want)}"
    if is_device_array(want):
        got, want = asnumpy(got), asnumpy(want)
    if isinstance(want, cr.Tensor):
        assert got.requires_grad == want.requires_grad, where
        got, want = got.cpu().numpy(), want.cpu().numpy()
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
    *(pytest.param(m, marks=needs_no_cuda)
      for m in ("cuda", "cuda:1", {"cpu": "cuda:0"}, lambda t, loc: "cuda")), "mps",
])
def test_map_location_to_another_device_is_a_clear_error(tmp_path, map_location):
    save({"t": cr.tensor([1.0])}, tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match=r"(cuda|mps).* not available"):
        load(tmp_path / "m.pt", map_location=map_location)


def test_optimizers_and_objects_are_refused_naming_state_dict(tmp_path):
    model = cr.nn.Linear(2, 2)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    for obj in (opt, {"optimizer": opt, "model": model}, [object()]):
        with pytest.raises(TypeError, match=r"state_dict\(\)"):
            save(obj, tmp_path / "x.pt")
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        save(opt, io.BytesIO())
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


# ----- whole Modules (torch.save(model, f) / torch.load(f)), stored as data -----

class WordLM(cr.nn.Module):
    """word_language_model's RNNModel, with a Transformer encoder too; counts __init__ calls."""

    inits = 0

    def __init__(self, ntoken: int = 17, ninp: int = 8, nhid: int = 8, nlayers: int = 2) -> None:
        super().__init__()
        WordLM.inits += 1
        nn = cr.nn
        self.rnn_type = "LSTM"
        self.drop = nn.Dropout(0.25)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.transformer = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(ninp, 2, 16, dropout=0.1), 2)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.1)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight  # tied
        self.register_buffer("steps", cr.zeros(1))
        self.register_buffer("scratch", cr.ones(2), persistent=False)
        self.ntoken, self.nhid, self.nlayers, self.tied = ntoken, nhid, nlayers, True
        self.extra = {"sizes": (ninp, nhid), "names": ["a", ("b", None)], "lr": 0.5,
                      "ratio": float("inf")}

    def forward(self, x: cr.Tensor, hidden: tuple) -> tuple:
        emb = self.transformer(self.drop(self.encoder(x)))
        out, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(out)).view(-1, self.ntoken), hidden

    def init_hidden(self, bsz: int) -> tuple:
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


class Holder(cr.nn.Module):
    """A module that tests put odd attributes on."""

    def __init__(self) -> None:
        super().__init__()
        self.head = cr.nn.Linear(2, 2)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.head(x)


def _word_lm() -> WordLM:
    cr.manual_seed(0)
    model = WordLM()
    model.rnn.bias_hh_l0.requires_grad_(False)
    model.eval()
    model.transformer.layers[1].train()  # mixed flags come back as they were
    return model


def _assert_same_model(got: cr.nn.Module, want: cr.nn.Module) -> None:
    assert type(got) is type(want)
    names = [n for n, _ in want.named_modules()]
    assert [n for n, _ in got.named_modules()] == names
    for (_, g), (_, w) in zip(got.named_modules(), want.named_modules()):
        assert type(g) is type(w)
        assert g.training == w.training
        assert g._non_persistent == w._non_persistent
        plain = {k: v for k, v in w.__dict__.items() if not k.startswith("_")}
        assert_same({k: v for k, v in g.__dict__.items() if not k.startswith("_")}, plain)
    for (gn, g), (wn, w) in zip(got.named_parameters(), want.named_parameters(), strict=True):
        assert gn == wn
        assert type(g) is cr.nn.Parameter
        assert g.requires_grad == w.requires_grad, gn
        assert_same(g.cpu().numpy(), w.cpu().numpy(), gn)
    assert_same(dict(got.named_buffers()), dict(want.named_buffers()))
    assert_same(got.state_dict(), want.state_dict())


def test_module_round_trip_keeps_tree_ties_flags_and_outputs(tmp_path):
    model = _word_lm()
    x = cr.randint(0, 17, (6, 3))
    want, _ = model(x, model.init_hidden(3))
    save(model, tmp_path / "model.pt")
    inits = WordLM.inits
    got = load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    assert WordLM.inits == inits  # no __init__ ran
    _assert_same_model(got, model)
    assert got.decoder.weight is got.encoder.weight
    assert got.transformer.layers[0].activation is cr.nn.functional.relu
    assert got.extra["sizes"] == (8, 8)
    assert isinstance(got.extra["names"][1], tuple)
    assert got.transformer.layers[1].training
    assert not got.training
    got.transformer.layers[1].eval()
    model.transformer.layers[1].eval()
    output, hidden = got(x.cpu(), got.init_hidden(3))  # map_location="cpu" put got there
    want, want_hidden = model(x, model.init_hidden(3))
    np.testing.assert_array_equal(output.cpu().numpy(), want.cpu().numpy())
    np.testing.assert_array_equal(hidden[0].cpu().numpy(), want_hidden[0].cpu().numpy())


def test_training_continues_after_loading_a_module(tmp_path):
    save(_word_lm(), tmp_path / "model.pt")
    model = load(tmp_path / "model.pt")
    model.train()
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    before = {n: p.cpu().numpy().copy() for n, p in model.named_parameters()}
    x, y = cr.randint(0, 17, (5, 2)), cr.randint(0, 17, (10,))
    output, _ = model(x, model.init_hidden(2))
    loss = cr.nn.functional.cross_entropy(output, y)
    loss.backward()
    opt.step()
    assert model.encoder.weight.grad is not None
    assert model.rnn.bias_hh_l0.grad is None  # frozen when saved, still frozen
    assert model.decoder.weight is model.encoder.weight
    changed = [n for n, p in model.named_parameters()
               if not np.array_equal(p.cpu().numpy(), before[n])]
    assert "encoder.weight" in changed
    assert "rnn.weight_ih_l0" in changed
    assert "rnn.bias_hh_l0" not in changed


def test_module_round_trips_through_file_objects_and_checkpoints(tmp_path):
    model = _word_lm()
    with open(tmp_path / "m.pt", "wb") as f:
        save(model, f)
    with open(tmp_path / "m.pt", "rb") as f:
        _assert_same_model(load(f), model)
    buf = io.BytesIO()
    save({"model": model, "encoder": model.encoder, "epoch": 3, "lrs": (0.1, 0.01)}, buf)
    buf.seek(0)
    got = load(buf)
    _assert_same_model(got["model"], model)
    assert got["encoder"] is got["model"].encoder
    assert got["epoch"] == 3
    assert got["lrs"] == (0.1, 0.01)


def test_chainrule_torch_save_and_load_whole_models(tmp_path):
    import chainrule.torch as torch

    model = _word_lm()
    with open(tmp_path / "model.pt", "wb") as f:
        torch.save(model, f)
    with open(tmp_path / "model.pt", "rb") as f:
        got = torch.load(f)
    _assert_same_model(got, model)


def test_module_file_is_plain_safetensors_with_state_dict_names(tmp_path):
    model = _word_lm()
    save(model, tmp_path / "model.pt")
    flat = safetensors.numpy.load_file(tmp_path / "model.pt")
    state = model.state_dict()
    # a tied weight is stored once; a non-persistent buffer is part of the module, so saved
    assert set(flat) == set(state) - {"decoder.weight"} | {"scratch"}
    state["scratch"] = model.scratch.cpu().numpy()
    for name, array in flat.items():
        np.testing.assert_array_equal(array, to_numpy(state[name]))


def test_shared_submodules_and_plain_modules_round_trip(tmp_path):
    shared = cr.nn.Linear(2, 2)
    model = cr.nn.Sequential(shared, cr.nn.ReLU(), shared)
    model.norm_cls = cr.nn.LayerNorm  # a chainrule class, stored by name
    save(model, tmp_path / "s.pt")
    got = load(tmp_path / "s.pt")
    assert got[0] is got[2]
    assert got.norm_cls is cr.nn.LayerNorm
    x = cr.randn(3, 2)
    np.testing.assert_array_equal(got(x).cpu().numpy(), model(x).cpu().numpy())


def test_saving_modules_never_pickles(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("dumps", "dump", "loads", "load", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    model = _word_lm()
    save(model, tmp_path / "m.pt")
    _assert_same_model(load(tmp_path / "m.pt"), model)


def _user_function(x):
    return x


@pytest.mark.parametrize(("value", "what"), [
    (lambda x: x, "function"),
    (object(), "object"),
    (_user_function, "function"),
    ([1, {"f": print}], "builtin_function_or_method"),
    ({1, 2}, "set"),
    (np.float64, "type"),
])
def test_module_with_unsavable_attribute_is_refused_naming_it(tmp_path, value, what):
    model = Holder()
    model.head.act = value
    with pytest.raises(TypeError, match=rf"'head\.act'.*{what}.*state_dict\(\)"):
        save(model, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        save({"model": model}, io.BytesIO())
    assert list(tmp_path.iterdir()) == []


def test_module_with_open_file_attribute_is_refused(tmp_path):
    model = Holder()
    with open(tmp_path / "log.txt", "w") as log:
        model.log = log
        with pytest.raises(TypeError, match=r"'log'.*TextIOWrapper.*state_dict\(\)"):
            save(model, tmp_path / "m.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["log.txt"]


def test_class_defined_in_a_function_is_refused(tmp_path):
    class Local(cr.nn.Module):
        pass

    with pytest.raises(TypeError, match=r"module level.*state_dict\(\)"):
        save(Local(), tmp_path / "m.pt")


# ----- loading modules from edited (hostile) metadata -----

def _saved_holder(tmp_path: Path) -> Path:
    model = Holder()
    model.head.act = cr.nn.functional.relu
    model.head.sizes = [1, (2, 3)]
    save(model, tmp_path / "m.pt")
    return tmp_path / "m.pt"


def _edit(path: Path, edit) -> None:
    """Rewrite path with its module records (a list of dicts) passed through edit."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + n])["__metadata__"]
    records = json.loads(metadata["chainrule.modules"])
    edit(records, metadata)
    deep = '{"list": [' * 3000 + "]}" * 3000  # too deep to build as objects: spliced in
    metadata["chainrule.modules"] = json.dumps(records).replace('"@deep"', deep)
    path.write_bytes(safetensors.numpy.save(safetensors.numpy.load(data), metadata=metadata))


def _set(record: dict, key: str, name: str, node) -> None:
    record[key] = [[k, node if k == name else v] for k, v in record[key]]


def test_edited_holder_file_loads_when_untouched(tmp_path):
    path = _saved_holder(tmp_path)
    _edit(path, lambda records, metadata: None)
    got = load(path)
    assert got.head.act is cr.nn.functional.relu
    assert got.head.sizes == [1, (2, 3)]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r, m: r[0].update({"class": ["not_imported_module_xyz", "Holder"]}),
     r"not_imported_module_xyz\.Holder is not loaded.*import the module"),
    (lambda r, m: r[0].update({"class": ["this", "Holder"]}),
     r"this\.Holder is not loaded.*import the module"),
    (lambda r, m: r[0].update({"class": [Holder.__module__, "Missing"]}), r"Missing.*import"),
    (lambda r, m: r[0].update({"class": [Holder.__module__, "Holder.<locals>.X"]}), "import"),
    (lambda r, m: r[1].update({"class": ["collections", "OrderedDict"]}),
     r"collections\.OrderedDict is not a chainrule\.nn\.Module subclass"),
    (lambda r, m: r[1].update({"class": ["os", "system"]}), "not a chainrule.nn.Module"),
    (lambda r, m: r[1].update({"class": ["chainrule.optim", "SGD"]}), "not a chainrule.nn.Module"),
    (lambda r, m: r[1].update({"class": ["chainrule", "nn"]}), "not a chainrule.nn.Module"),
    (lambda r, m: r[1].update({"class": "chainrule.nn.Linear"}), r"\[module, qualname\]"),
    (lambda r, m: _set(r[1], "attributes", "act", {"callable": ["os", "system"]}),
     r"os\.system is outside the chainrule package"),
    (lambda r, m: _set(r[1], "attributes", "act", {"callable": ["builtins", "eval"]}),
     "outside the chainrule package"),
    (lambda r, m: _set(r[1], "attributes", "act", {"callable": ["chainrule_evil", "f"]}),
     "outside the chainrule package"),
    (lambda r, m: _set(r[1], "attributes", "act", {"callable": ["chainrule.nn.functional",
                                                                 "nope"]}),
     "not a function or class"),
    (lambda r, m: _set(r[1], "attributes", "act", {"callable": ["chainrule.nn", "functional"]}),
     "not a function or class"),
    (lambda r, m: r[1].update({"training": "yes"}), "training"),
    (lambda r, m: r[1].update({"parameters": {"weight": None}}), "parameters"),
    (lambda r, m: r[1].update({"attributes": [["_parameters", 1]]}), "not allowed"),
    (lambda r, m: r[1].update({"attributes": [["__class__", 1]]}), "not allowed"),
    (lambda r, m: r[1].update({"code": "print(1)"}), "malformed module record"),
    (lambda r, m: _set(r[0], "modules", "head", 7), "bad module index 7"),
    (lambda r, m: _set(r[0], "modules", "head", True), "bad module index"),
    (lambda r, m: _set(r[1], "parameters", "bias", {"scalar": "head.weight"}), "not a tensor"),
    (lambda r, m: m.update({"chainrule.structure": '{"callable": ["chainrule.nn", "Linear"]}'}),
     "callable outside a module"),
    (lambda r, m: m.update({"chainrule.structure": '{"module": 5}'}), "bad module index"),
    (lambda r, m: _set(r[1], "attributes", "sizes", "@deep"), "structure"),
    (lambda r, m: _set(r[1], "attributes", "sizes", json.loads('{"list": [' * 300 + "]}" * 300)),
     "deeper than"),
    (lambda r, m: r.append(r[0]) or r[-1].update({"attributes": [["x", {"tensor": 3}]]}),
     "structure"),
    (lambda r, m: m.update({"chainrule.format": "99"}), "newer"),
])
def test_hostile_module_metadata_raises_value_error_without_importing(tmp_path, edit, message):
    path = _saved_holder(tmp_path)
    had_this = "this" in sys.modules
    _edit(path, edit)
    with pytest.raises(ValueError, match=message):
        load(path)
    assert "not_imported_module_xyz" not in sys.modules
    assert ("this" in sys.modules) == had_this


def test_class_of_a_module_not_imported_is_a_clear_error(tmp_path, monkeypatch):
    path = _saved_holder(tmp_path)
    monkeypatch.delitem(sys.modules, Holder.__module__)
    with pytest.raises(ValueError, match=rf"{Holder.__module__}\.Holder is not loaded.*import"):
        load(path)
    monkeypatch.undo()
    assert type(load(path)) is Holder


def test_too_deep_nesting_is_refused_on_save(tmp_path):
    deep: list = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(TypeError, match="deeper than"):
        save({"x": deep}, tmp_path / "d.pt")
