"""Samplers, Subset, ConcatDataset, random_split, IterableDataset and the DataLoader's options,
against torch.utils.data wherever its behaviour is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_convert,
    random_split,
)


class Items(Dataset):
    """Samples are the integers of a range."""

    def __init__(self, n: int, offset: int = 0) -> None:
        self.n, self.offset = n, offset

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.offset + i


class Stream(IterableDataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self) -> int:
        return self.n


class TorchStream(tud.IterableDataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self) -> int:
        return self.n


def _plain(batches) -> list:
    return [b if isinstance(b, int) else b.tolist() for b in batches]


# ----- samplers -----

def test_sequential_and_batch_sampler_match_torch():
    assert list(SequentialSampler(range(7))) == list(tud.SequentialSampler(range(7)))
    for size in (1, 3, 7, 8):
        for drop in (False, True):
            ours = BatchSampler(SequentialSampler(range(7)), size, drop)
            theirs = tud.BatchSampler(tud.SequentialSampler(range(7)), size, drop)
            assert list(ours) == list(theirs)
            assert len(ours) == len(theirs)
    assert list(BatchSampler([5, 1, 4], 2, False)) == [[5, 1], [4]]


@pytest.mark.parametrize(("n", "num_samples"), [(10, None), (10, 4), (4, 10), (5, 15)])
def test_random_sampler_without_replacement_deals_whole_permutations(n, num_samples):
    sampler = RandomSampler(range(n), num_samples=num_samples,
                            generator=np.random.default_rng(0))
    got = list(sampler)
    want_len = len(tud.RandomSampler(range(n), num_samples=num_samples))
    assert len(got) == len(sampler) == want_len
    for start in range(0, len(got) - n + 1, n):
        assert sorted(got[start:start + n]) == list(range(n))
    assert len(set(got[len(got) // n * n:])) == len(got) % n


def test_random_sampler_with_replacement_and_reproducibility():
    sampler = RandomSampler(range(5), replacement=True, num_samples=200,
                            generator=np.random.default_rng(1))
    got = list(sampler)
    assert len(got) == 200
    assert set(got) == set(range(5))
    again = RandomSampler(range(5), replacement=True, num_samples=200,
                          generator=np.random.default_rng(1))
    assert list(again) == got
    cr.manual_seed(3)
    a = list(RandomSampler(range(20)))
    cr.manual_seed(3)
    assert list(RandomSampler(range(20))) == a


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"replacement": 1}, TypeError),
    ({"num_samples": 0}, ValueError),
    ({"num_samples": 2.5}, ValueError),
])
def test_random_sampler_bad_arguments_raise_as_torch(kwargs, error):
    with pytest.raises(error, match="should be"):
        RandomSampler(range(3), **kwargs)
    with pytest.raises(error, match="should be"):
        tud.RandomSampler(range(3), **kwargs)


def test_subset_random_sampler_is_a_permutation_of_the_indices():
    indices = [9, 4, 7, 1]
    sampler = SubsetRandomSampler(indices, generator=np.random.default_rng(0))
    assert sorted(sampler) == sorted(indices)
    assert len(sampler) == 4


def test_weighted_random_sampler():
    weights = [0.0, 1.0, 3.0, 0.0, 2.0]
    got = list(WeightedRandomSampler(weights, 3000, generator=np.random.default_rng(0)))
    counts = np.bincount(got, minlength=5) / 3000
    np.testing.assert_allclose(counts, np.array(weights) / 6, atol=0.03)
    no_repeat = list(WeightedRandomSampler(cr.tensor(weights), 3, replacement=False))
    assert sorted(no_repeat) == [1, 2, 4]
    assert len(WeightedRandomSampler(weights, 7)) == 7
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="1d"):
        tud.WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(RuntimeError, match="non-zero"):
        WeightedRandomSampler(weights, 4, replacement=False)


def test_batch_sampler_bad_arguments_raise_as_torch():
    for kwargs in ({"batch_size": 0, "drop_last": False}, {"batch_size": 2, "drop_last": 1}):
        with pytest.raises(ValueError, match="should be"):
            BatchSampler(range(4), **kwargs)
        with pytest.raises(ValueError, match="should be"):
            tud.BatchSampler(range(4), **kwargs)


def test_sampler_base_is_generic_and_user_samplers_drive_the_loader():
    class Reverse(Sampler[int]):
        def __init__(self, n: int) -> None:
            self.n = n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self) -> int:
            return self.n

    loader = DataLoader(Items(5), batch_size=2, sampler=Reverse(5))
    assert _plain(loader) == [[4, 3], [2, 1], [0]]
    assert len(loader) == 3
    with pytest.raises(NotImplementedError):
        iter(Sampler())


# ----- datasets -----

def test_subset_and_concat_match_torch():
    ours = ConcatDataset([Items(3), Subset(Items(10, 100), [7, 2, 5]), Items(0), Items(2, 50)])
    theirs = tud.ConcatDataset([list(range(3)), tud.Subset(list(range(100, 110)), [7, 2, 5]),
                                [], [50, 51]])
    assert len(ours) == len(theirs) == 8
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    with pytest.raises(ValueError, match="exceed"):
        ours[-9]
    with pytest.raises(IndexError):
        ours[8]
    assert len(Items(2) + Items(3)) == 5
    assert [Subset(Items(10), [4, 1])[i] for i in (0, 1, -1)] == [4, 1, 1]
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Stream(3)])


def test_subset_of_tensor_dataset_batches_as_its_samples():
    ds = TensorDataset(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10))
    sub = Subset(ds, [8, 3, 3, 0, -1])
    assert len(sub) == 5
    x, y = sub[1]
    assert (x.tolist(), y.item()) == ([6.0, 7.0], 3)
    for shuffle in (False, True):
        fast = list(DataLoader(sub, 2, shuffle=shuffle, seed=4))
        # a collate_fn of one's own takes the per-sample path
        slow = list(DataLoader(sub, 2, shuffle=shuffle, seed=4,
                               collate_fn=lambda b: cr.data.default_collate(b)))
        for f, s in zip(fast, slow, strict=True):
            for a, b in zip(f, s, strict=True):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


@pytest.mark.parametrize(("n", "lengths"), [
    (10, [0.5, 0.5]), (11, [0.7, 0.2, 0.1]), (7, [0.3, 0.3, 0.4]), (100, [0.8, 0.1, 0.1]),
    (5, [3, 2]), (13, [1 / 3, 1 / 3, 1 / 3]),
])
def test_random_split_lengths_match_torch_and_partition(n, lengths):
    splits = random_split(Items(n), lengths, generator=np.random.default_rng(0))
    want = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in splits] == [len(s) for s in want]
    everything = [s[i] for s in splits for i in range(len(s))]
    assert sorted(everything) == list(range(n))


def test_random_split_reproducible_errors_and_warnings():
    def split(seed):
        return [list(s.indices) for s in random_split(Items(9), [4, 5],
                                                      generator=np.random.default_rng(seed))]

    assert split(1) == split(1)
    assert split(1) != split(2)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Items(9), [4, 4])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        tud.random_split(range(9), [4, 4])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Items(2), [0.9, 0.1])
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(Items(2), [1.5, -0.5])


# ----- DataLoader options -----

@pytest.mark.parametrize("kwargs", [
    {"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
    {"batch_sampler": [[0, 1], [4], [2, 3, 5]]}, {"sampler": [6, 0, 2], "batch_size": 2},
])
def test_unshuffled_batches_and_len_match_torch(kwargs):
    ours = DataLoader(Items(7), **kwargs)
    theirs = tud.DataLoader(list(range(7)), **kwargs)
    assert _plain(ours) == _plain(theirs)
    if "batch_sampler" not in kwargs:
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
])
def test_iterable_dataset_batches_and_len_match_torch(kwargs):
    ours = DataLoader(Stream(7), **kwargs)
    theirs = tud.DataLoader(TorchStream(7), **kwargs)
    assert _plain(ours) == _plain(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize(("dataset_kind", "kwargs", "message"), [
    ("map", {"sampler": [0], "shuffle": True}, "mutually exclusive with shuffle"),
    ("map", {"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option"),
    ("map", {"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option"),
    ("map", {"batch_size": None, "drop_last": True}, "batch_size=None"),
    ("iterable", {"shuffle": True}, "expected unspecified shuffle"),
    ("iterable", {"sampler": [0]}, "expected unspecified sampler"),
])
def test_conflicting_options_raise_as_torch(dataset_kind, kwargs, message):
    ours, theirs = (Items(3), list(range(3))) if dataset_kind == "map" else (Stream(3),
                                                                             TorchStream(3))
    with pytest.raises(ValueError, match=message):
        DataLoader(ours, **kwargs)
    with pytest.raises(ValueError, match=message):
        tud.DataLoader(theirs, **kwargs)


def test_generator_fixes_the_shuffle():
    def order(seed):
        loader = DataLoader(Items(12), 12, shuffle=True, generator=np.random.default_rng(seed))
        return [_plain(loader) for _ in range(2)]

    a = order(0)
    assert a == order(0)
    assert a[0] != a[1]
    assert sorted(a[0][0]) == list(range(12))
    assert isinstance(DataLoader(Items(3), shuffle=True).sampler, RandomSampler)


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float32(2.0), "s", 1)})
    assert isinstance(out["a"], cr.Tensor)
    assert out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list)
    assert isinstance(out["b"][0], cr.Tensor)
    assert out["b"][1:] == ["s", 1]
