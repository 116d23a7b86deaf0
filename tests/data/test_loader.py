"""DataLoader: collation, batching, reproducible shuffling, mid-epoch resume; TensorDataset."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset, default_collate
from chainrule.serialization import load, save


class ListDataset(Dataset):
    """Samples from a list, through __getitem__ only (no whole-array fast path)."""

    def __init__(self, samples: list) -> None:
        self.samples = samples

    def __getitem__(self, index: int):
        return self.samples[index]

    def __len__(self) -> int:
        return len(self.samples)


def _dataset(n: int = 23) -> TensorDataset:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(x, np.arange(n, dtype=np.int64))


def _labels(batches: list) -> list[list[int]]:
    """The label batches, as lists."""
    return [b[1].tolist() for b in batches]


def _order(batches: list) -> list[int]:
    """The labels of all batches, in order."""
    return [label for b in batches for label in b[1].tolist()]


# ----- Dataset and TensorDataset -----

def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_tensor_dataset_items_and_len():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ds = TensorDataset(cr.tensor(x), np.array([1, 0, 1, 0]))
    assert len(ds) == 4
    xi, yi = ds[2]
    assert isinstance(xi, cr.Tensor)
    assert isinstance(yi, cr.Tensor)
    np.testing.assert_array_equal(xi.cpu().numpy(), x[2])
    assert yi.shape == ()
    assert yi.item() == 1
    assert ds.tensors[0].shape == (4, 3)


def test_tensor_dataset_first_dimension_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


# ----- collation -----

def test_collate_tuple_samples_gives_tuple_of_batched_tensors():
    samples = [(np.full(3, i, dtype=np.float32), i) for i in range(4)]
    x, y = default_collate(samples)
    assert isinstance(x, cr.Tensor)
    assert x.shape == (4, 3)
    assert x.dtype == np.float32
    assert isinstance(y, cr.Tensor)
    assert y.dtype == np.int64
    assert y.tolist() == [0, 1, 2, 3]
    assert isinstance(default_collate(samples), tuple)


def test_collate_keeps_dtypes_and_handles_python_scalars():
    assert default_collate([np.float64(1.0), np.float64(2.0)]).dtype == np.float64
    assert default_collate([cr.tensor(1.0), cr.tensor(2.0)]).dtype == np.float32
    assert default_collate([np.int32(1), np.int32(2)]).dtype == np.int32
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([1.5, 2]).dtype == cr.get_default_dtype()
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_dicts_lists_and_namedtuples():
    Pair = namedtuple("Pair", "x y")
    batch = default_collate([{"a": Pair(np.ones(2), 1), "b": [1, 2.0]},
                             {"a": Pair(np.zeros(2), 2), "b": [3, 4.0]}])
    assert isinstance(batch["a"], Pair)
    assert batch["a"].x.shape == (2, 2)
    assert batch["a"].y.tolist() == [1, 2]
    assert isinstance(batch["b"], list)
    assert batch["b"][0].tolist() == [1, 3]


def test_collate_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object(), object()])


# ----- batching -----

@pytest.mark.parametrize(("n", "batch_size", "drop_last", "sizes"), [
    (23, 5, False, [5, 5, 5, 5, 3]),
    (23, 5, True, [5, 5, 5, 5]),
    (20, 5, True, [5, 5, 5, 5]),
    (3, 5, True, []),
    (3, 5, False, [3]),
])
def test_batch_sizes_len_and_order(n, batch_size, drop_last, sizes):
    loader = DataLoader(_dataset(n), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes)
    assert [len(y) for _, y in batches] == sizes
    assert _order(batches) == list(range(sum(sizes)))
    for x, y in batches:
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        np.testing.assert_array_equal(x.cpu().numpy()[:, 0], 3 * y.cpu().numpy())


def test_fast_path_matches_per_sample_collation():
    ds = _dataset()
    slow = ListDataset([ds[i] for i in range(len(ds))])
    for shuffle in (False, True):
        fast_batches = list(DataLoader(ds, 4, shuffle=shuffle, seed=3))
        slow_batches = list(DataLoader(slow, 4, shuffle=shuffle, seed=3))
        for f, s in zip(fast_batches, slow_batches, strict=True):
            assert type(f) is type(s)
            assert len(f) == len(s)
            for a, b in zip(f, s, strict=True):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_tensor_dataset_subclass_with_own_getitem_is_not_fast_pathed():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x * 2.0, y

    (x, _), *_ = DataLoader(Doubled(*_dataset().arrays), batch_size=2)
    np.testing.assert_array_equal(x.cpu().numpy(), 2 * _dataset().arrays[0][:2])


def test_writing_to_a_batch_leaves_the_dataset_alone():
    ds = _dataset()
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x[...] = -1.0
    assert ds.arrays[0][0, 1] == 1.0


def test_non_tuple_samples_and_custom_collate():
    loader = DataLoader(ListDataset([np.full(2, i, np.float32) for i in range(5)]), batch_size=2)
    assert [b.shape for b in loader] == [(2, 2), (2, 2), (1, 2)]
    sums = DataLoader(ListDataset(list(range(5))), 2, collate_fn=sum)
    assert list(sums) == [1, 5, 4]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=bad)


# ----- shuffling -----

def test_shuffle_is_reproducible_from_seed_and_new_each_epoch():
    def epochs(seed, count=3):
        loader = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=seed)
        return [_order(list(loader)) for _ in range(count)]

    a, b = epochs(7), epochs(7)
    assert a == b
    assert all(sorted(order) == list(range(23)) for order in a)
    assert a[0] != a[1] != a[2]
    assert epochs(8) != a
    assert a[0] != list(range(23))


def test_epoch_order_depends_only_on_seed_and_epoch():
    ds = _dataset()
    loader = DataLoader(ds, batch_size=23, shuffle=True, seed=5)
    order = np.random.default_rng([5, 2]).permutation(len(ds))
    loader.set_epoch(2)
    (_, y), = list(loader)
    np.testing.assert_array_equal(y.cpu().numpy(), order)
    assert loader.epoch == 3


def test_seed_none_follows_manual_seed():
    cr.manual_seed(11)
    a = [b[1].tolist() for b in DataLoader(_dataset(), 6, shuffle=True)]
    cr.manual_seed(11)
    b = [b[1].tolist() for b in DataLoader(_dataset(), 6, shuffle=True)]
    assert a == b


def test_drop_last_with_shuffle_drops_different_samples():
    loader = DataLoader(_dataset(10), batch_size=4, shuffle=True, drop_last=True, seed=0)
    seen = [sorted(_order(list(loader))) for _ in range(4)]
    assert all(len(s) == 8 for s in seen)
    assert len({tuple(s) for s in seen}) > 1


# ----- resuming -----

def _run(loader, epochs):
    return [_labels(list(loader)) for _ in range(epochs)]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("stop_after", [0, 1, 3, 5])
def test_resume_mid_epoch_equals_uninterrupted(tmp_path, drop_last, stop_after):
    def make():
        return DataLoader(_dataset(), batch_size=5, shuffle=True, drop_last=drop_last, seed=42)

    full = _run(make(), 4)

    # Epoch 0 whole; epoch 1 checkpointed after every step and killed after `stop_after` steps.
    loader = make()
    got = [_labels(list(loader))]
    save({"loader": loader.state_dict()}, tmp_path / "ckpt.safetensors")
    partial = []
    for _, y in loader:
        if len(partial) == stop_after:
            break  # killed
        partial.append(y.tolist())
        save({"loader": loader.state_dict()}, tmp_path / "ckpt.safetensors")

    # A fresh process: a new loader, the checkpoint loaded.
    resumed = make()
    state = load(tmp_path / "ckpt.safetensors")["loader"]
    assert (state["epoch"], state["position"]) == (1, len(partial))
    resumed.load_state_dict(state)
    rest = _labels(list(resumed))
    got.append(partial + rest)
    got += _run(resumed, 2)
    assert got == full


def test_state_after_the_last_batch_resumes_to_the_next_epoch():
    full = _run(DataLoader(_dataset(), 5, shuffle=True, seed=1), 2)
    loader = DataLoader(_dataset(), 5, shuffle=True, seed=1)
    it = iter(loader)
    first = [next(it)[1].tolist() for _ in range(len(loader))]
    state = loader.state_dict()
    assert (state["epoch"], state["position"]) == (0, len(loader))
    resumed = DataLoader(_dataset(), 5, shuffle=True, seed=1)
    resumed.load_state_dict(state)
    assert list(resumed) == []
    assert [first, *_run(resumed, 1)] == full


def test_resume_restores_a_seed_drawn_from_the_global_generator():
    loader = DataLoader(_dataset(), 5, shuffle=True)
    next(iter(loader))
    state = loader.state_dict()
    resumed = DataLoader(_dataset(), 5, shuffle=True)
    resumed.load_state_dict(state)
    order = np.random.default_rng([state["seed"], 0]).permutation(23)
    assert _order(list(resumed)) == order[5:].tolist()


def test_abandoned_iteration_starts_the_next_epoch():
    loader = DataLoader(_dataset(), 5, shuffle=True, seed=3)
    for _ in loader:
        break
    assert loader.epoch == 0
    assert _order(list(loader)) == np.random.default_rng([3, 1]).permutation(23).tolist()
    assert loader.epoch == 2


def test_load_state_dict_rejects_a_different_configuration():
    state = DataLoader(_dataset(), 5, shuffle=True, seed=0).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), 4, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="num_samples"):
        DataLoader(_dataset(22), 5, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(_dataset(), 5).load_state_dict(state)
    with pytest.raises(KeyError, match="epoch"):
        DataLoader(_dataset(), 5).load_state_dict({})
