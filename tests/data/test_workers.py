"""DataLoader(num_workers=N): the same batches as in-process loading, in order; errors, worker
info, iterable datasets, shutdown, persistent workers, the spawn context, timeouts."""

from __future__ import annotations

import gc
import multiprocessing
import os
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

from chainrule.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    get_worker_info,
)


class DictDataset(Dataset):
    """Dict samples through __getitem__; index 13 raises, slow indices sleep."""

    def __init__(self, n: int = 23, bad: int | None = None, slow: tuple[int, ...] = ()) -> None:
        self.n, self.bad, self.slow = n, bad, slow

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        if i == self.bad:
            raise_from_dataset(i)
        if i in self.slow:
            time.sleep(0.05)
        return {"x": np.full(3, i, np.float32), "y": i, "name": f"s{i}"}


def raise_from_dataset(i: int) -> None:
    raise KeyError(f"sample {i} is missing")


class WorkerIdDataset(Dataset):
    """Each sample says which worker (and process, and init value) loaded it."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple:
        info = get_worker_info()
        return i, info.id, info.num_workers, os.getpid(), INIT.get("value", -1)


INIT: dict[str, int] = {}


def init_worker(worker_id: int) -> None:
    INIT["value"] = 100 + worker_id


def make_range(framework_info):
    """A class of iterable dataset over 0..9, split between workers by ``framework_info()``."""

    class Range(IterableDataset if framework_info is get_worker_info else tud.IterableDataset):
        def __init__(self, shard: bool) -> None:
            self.shard = shard

        def __iter__(self):
            info = framework_info()
            if info is None or not self.shard:
                return iter(range(10))
            return iter(range(info.id, 10, info.num_workers))

    return Range


def _flatten(batch):
    """A batch as plain Python values, for comparing."""
    if isinstance(batch, dict):
        return {k: _flatten(v) for k, v in batch.items()}
    if isinstance(batch, tuple | list):
        return [_flatten(v) for v in batch]
    if hasattr(batch, "tolist"):
        return (str(batch.dtype), batch.tolist())
    return batch


def _batches(loader) -> list:
    return [_flatten(b) for b in loader]


def _our_children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children()}


@pytest.mark.parametrize("dataset", [
    DictDataset(23, slow=(0, 1, 7)),
    TensorDataset(np.arange(69, dtype=np.float32).reshape(23, 3), np.arange(23)),
    Subset(TensorDataset(np.arange(30)), list(range(29, 6, -1))),
], ids=["getitem", "tensor-dataset", "subset"])
@pytest.mark.parametrize(("shuffle", "drop_last"), [(False, False), (True, True)])
def test_workers_give_the_in_process_batches(dataset, shuffle, drop_last):
    def load(workers):
        return _batches(DataLoader(dataset, batch_size=4, shuffle=shuffle, drop_last=drop_last,
                                   seed=5, num_workers=workers))

    want = load(0)
    assert len(want) == (5 if drop_last else 6)
    assert load(2) == want
    assert load(3) == want


def test_custom_collate_batch_size_none_and_samplers_with_workers():
    ds = DictDataset(9)
    for kwargs in ({"batch_size": 2, "collate_fn": lambda b: sum(s["y"] for s in b)},
                   {"batch_size": None},
                   {"batch_sampler": [[3, 1], [8], [0, 2, 4]]},
                   {"sampler": [8, 0, 5], "batch_size": 2}):
        assert _batches(DataLoader(ds, num_workers=2, **kwargs)) == \
            _batches(DataLoader(ds, **kwargs)), kwargs


def test_worker_error_is_raised_in_main_with_the_worker_traceback():
    loader = DataLoader(DictDataset(23, bad=13), batch_size=2, num_workers=2)
    seen = []

    def consume():
        for batch in loader:
            seen.append(batch["y"].tolist())

    with pytest.raises(KeyError, match="DataLoader worker process") as info:
        consume()
    assert seen == [[i, i + 1] for i in range(0, 12, 2)]  # every batch before the failing one
    text = str(info.value)
    assert "sample 13 is missing" in text
    assert "raise_from_dataset" in text  # the worker's traceback
    assert "Traceback" in text
    time.sleep(0.1)
    assert not _our_children()


def test_exception_that_cannot_travel_becomes_runtime_error():
    class Local(Exception):
        pass

    def collate(batch):
        raise Local("made in a closure")

    with pytest.raises(RuntimeError, match="made in a closure"):
        list(DataLoader(DictDataset(4), batch_size=2, collate_fn=collate, num_workers=1))


def test_worker_info_and_init_fn():
    assert get_worker_info() is None
    batches = list(DataLoader(WorkerIdDataset(), batch_size=2, num_workers=2,
                              worker_init_fn=init_worker))
    samples = [tuple(col[j].item() for col in b) for b in batches for j in range(2)]
    assert [s[0] for s in samples] == list(range(8))
    assert [s[1] for s in samples] == [0, 0, 1, 1, 0, 0, 1, 1]  # batches dealt round-robin
    assert {s[2] for s in samples} == {2}
    assert {s[4] - s[1] for s in samples} == {100}
    assert len({s[3] for s in samples}) == 2
    assert os.getpid() not in {s[3] for s in samples}
    assert get_worker_info() is None


@pytest.mark.parametrize("shard", [True, False])
@pytest.mark.parametrize("batch_size", [3, None])
def test_iterable_dataset_with_workers_matches_torch(shard, batch_size):
    ours = DataLoader(make_range(get_worker_info)(shard), batch_size=batch_size, num_workers=2)
    theirs = tud.DataLoader(make_range(tud.get_worker_info)(shard), batch_size=batch_size,
                            num_workers=2, multiprocessing_context="fork")
    got = [b if isinstance(b, int) else b.tolist() for b in ours]
    want = [b if isinstance(b, int) else b.tolist() for b in theirs]
    assert got == want


def test_workers_stop_when_exhausted_or_abandoned():
    before = _our_children()
    loader = DataLoader(DictDataset(12), batch_size=2, num_workers=2)
    list(loader)
    assert _our_children() == before
    it = iter(loader)
    next(it)
    assert len(_our_children() - before) == 2
    del it
    gc.collect()
    assert _our_children() == before


def test_persistent_workers_are_reused_across_epochs():
    loader = DataLoader(WorkerIdDataset(), batch_size=4, shuffle=True, seed=2, num_workers=2,
                        persistent_workers=True)
    epochs = [[(b[0].tolist(), b[3].tolist()) for b in loader] for _ in range(3)]
    pids = [{pid for _, p in e for pid in p} for e in epochs]
    assert pids[0] == pids[1] == pids[2]
    assert len(pids[0]) == 2
    want = [np.random.default_rng([2, e]).permutation(8).reshape(2, 4).tolist() for e in range(3)]
    assert [[idx for idx, _ in e] for e in epochs] == want
    it = iter(loader)
    next(it)  # abandoned mid-epoch: the next epoch still comes out whole and in order
    assert [b[0].tolist() for b in loader] == \
        np.random.default_rng([2, 4]).permutation(8).reshape(2, 4).tolist()
    assert pids[0] <= _our_children()
    del loader, it
    gc.collect()
    assert not (pids[0] & _our_children())


def test_resume_mid_epoch_with_workers():
    ds = TensorDataset(np.arange(23))
    full = [b[0].tolist() for b in DataLoader(ds, 4, shuffle=True, seed=9)]
    loader = DataLoader(ds, 4, shuffle=True, seed=9, num_workers=2)
    it = iter(loader)
    first = [next(it)[0].tolist() for _ in range(2)]
    state = loader.state_dict()
    del it
    resumed = DataLoader(ds, 4, shuffle=True, seed=9, num_workers=2)
    resumed.load_state_dict(state)
    assert first + [b[0].tolist() for b in resumed] == full


def test_spawn_context():
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    got = _batches(DataLoader(ds, 3, shuffle=True, seed=1, num_workers=2,
                              multiprocessing_context="spawn"))
    assert got == _batches(DataLoader(ds, 3, shuffle=True, seed=1))


class Sleepy(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> int:
        time.sleep(0.5)
        return i


class Dying(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        if i == 2:
            os._exit(3)
        return i


def test_timeout_and_dead_worker_raise():
    with pytest.raises(RuntimeError, match=r"timed out after 0\.1 seconds"):
        list(DataLoader(Sleepy(), num_workers=1, timeout=0.1))
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dying(), num_workers=1))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_workers": -1}, "non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor"),
    ({"persistent_workers": True}, "num_workers > 0"),
    ({"multiprocessing_context": "fork"}, "multi-process"),
    ({"timeout": -1}, "timeout"),
])
def test_bad_worker_options_raise_as_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(DictDataset(4), **kwargs)
    with pytest.raises(ValueError, match=message):
        tud.DataLoader(torch.arange(4), **kwargs)


def test_pin_memory_is_accepted():
    loader = DataLoader(TensorDataset(np.arange(4)), 2, pin_memory=True,
                        pin_memory_device="cpu")
    assert [b[0].tolist() for b in loader] == [[0, 1], [2, 3]]


def test_persistent_workers_restart_iterable_datasets_each_epoch():
    loader = DataLoader(make_range(get_worker_info)(True), batch_size=3, num_workers=2,
                        persistent_workers=True)
    want = [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    assert [[b.tolist() for b in loader] for _ in range(3)] == [want] * 3


def failing_init(worker_id: int) -> None:
    raise ValueError(f"init of worker {worker_id} failed")


def test_worker_init_fn_error_propagates():
    with pytest.raises(ValueError, match=r"init of worker \d failed"):
        list(DataLoader(DictDataset(4), num_workers=2, worker_init_fn=failing_init))
