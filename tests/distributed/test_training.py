"""`chainrule train` on two processes (chainrule.training_distributed), run under mpiexec -n 2.

It trains the single-process run: the same global batches, so the same weights (float64, to
1e-10) and the same metrics; rank 0 alone writes the run folder; a resumed run equals one that
was never stopped.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
import chainrule.training_distributed as td
from chainrule import training
from chainrule.data import TensorDataset
from chainrule.training import TrainConfig, train

from .test_parallel import flat, same_on_every_rank

pytestmark = pytest.mark.multiprocess

SMALL = TrainConfig(epochs=1, optimizer="sgd", lr=0.05, scheduler="none", dropout=0.0,
                    hidden=(64, 32), progress=False)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every rank sees (rank 0 makes it)."""
    buf = np.zeros(512, np.uint8)
    if dist.get_rank() == 0:
        name = tempfile.mkdtemp(prefix="cr-ddp-").encode()
        buf[: len(name)] = np.frombuffer(name, np.uint8)
    dist.broadcast(buf, 0)
    yield Path(buf.tobytes().rstrip(b"\0").decode())
    dist.barrier()


@pytest.fixture
def float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train in float64: the data and the model."""
    load, build = training.load_data, training.models.build

    def load64(cfg: TrainConfig) -> tuple:
        return tuple(TensorDataset(*(cr.tensor(np.asarray(t).astype(np.float64))
                                     if np.asarray(t).dtype.kind == "f" else t
                                     for t in ds.tensors)) for ds in load(cfg))

    monkeypatch.setattr(training, "load_data", load64)
    monkeypatch.setattr(training.models, "build", lambda *a, **k: build(*a, **k).double())


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[td.DistributedRun]:
    """The DistributedRuns that train_distributed makes, in order."""
    made: list[td.DistributedRun] = []

    class Recorded(td.DistributedRun):
        def __init__(self, cfg: TrainConfig, **kwargs: Any) -> None:
            super().__init__(cfg, **kwargs)
            made.append(self)

    monkeypatch.setattr(td, "DistributedRun", Recorded)
    return made


def weights(run_dir: Path) -> np.ndarray:
    model = cr.load(run_dir / training.CHECKPOINT)["model"]
    return np.concatenate([np.asarray(model[k]).ravel() for k in sorted(model)])


def test_two_ranks_train_the_single_process_run(world, shared_dir, tmp_path, float64, runs):
    steps_in_step: list[bool] = []
    result = td.train_distributed(
        dataclasses.replace(SMALL, out=str(shared_dir / "ddp")),
        on_step=lambda step: steps_in_step.append(same_on_every_rank(flat(runs[0].model))))
    assert len(steps_in_step) == 45  # 1438 samples, batches of 32
    assert all(steps_in_step)
    single = train(dataclasses.replace(SMALL, out=str(tmp_path / "single")))
    dist.barrier()
    assert np.abs(weights(shared_dir / "ddp") - weights(tmp_path / "single")).max() < 1e-10
    for got, want in zip(result.history, single.history, strict=True):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_rank_0_alone_writes_the_run_folder(world, shared_dir, monkeypatch):
    saved: list[Path] = []
    save = cr.save
    monkeypatch.setattr(cr, "save", lambda obj, path: (saved.append(path), save(obj, path)))
    td.train_distributed(dataclasses.replace(SMALL, out=str(shared_dir / "run"),
                                             checkpoint_every=20))
    assert len(saved) == (3 if world[0] == 0 else 0)  # steps 20, 40 and the epoch's end
    dist.barrier()
    assert sorted(p.name for p in (shared_dir / "run").iterdir()) == [
        "checkpoint.safetensors", "curves.png", "metrics.jsonl"]
    _, acc = training.evaluate_run(shared_dir / "run")  # a single-process checkpoint
    assert acc > 0.5


class Stop(Exception):
    pass


def stop_at(step: int):
    def on_step(s: int) -> None:
        if s == step:
            raise Stop

    return on_step


def test_resume_equals_an_uninterrupted_run(world, shared_dir):
    cfg = dataclasses.replace(SMALL, epochs=2, dropout=0.2, optimizer="adam", lr=1e-2,
                              scheduler="cosine", checkpoint_every=20)
    whole = td.train_distributed(dataclasses.replace(cfg, out=str(shared_dir / "whole")))
    with pytest.raises(Stop):  # at step 70: the checkpoint holds step 60, mid epoch 2
        td.train_distributed(dataclasses.replace(cfg, out=str(shared_dir / "cut")),
                             on_step=stop_at(70))
    dist.barrier()
    resumed = td.train_distributed(resume=shared_dir / "cut")
    dist.barrier()
    assert (weights(shared_dir / "cut") == weights(shared_dir / "whole")).all()
    for got, want in zip(resumed.history, whole.history, strict=True):
        assert got == pytest.approx(want, rel=1e-9)
