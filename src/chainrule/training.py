"""The training loop as a library function: data, model, optimizer, checkpoints, metrics, plots."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import config_check, models, nn, optim
from chainrule.config_check import TrainError
from chainrule.creation import get_rng_state, set_rng_state
from chainrule.data import DataLoader
from chainrule.serialization import remove_stale_temporaries

CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
PLOT = "curves.png"
DATASETS = ("digits", "mnist", "fashion-mnist", "xor", "spirals")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("none", "step", "exponential", "cosine")


# Adam learning rate and batch size that each model trains well with on the bundled digits.
MODEL_DEFAULTS: dict[str, dict[str, float]] = {
    "mlp": {"lr": 1e-2, "batch_size": 32},
    "lenet5": {"lr": 3e-3, "batch_size": 64},
    "resnet": {"lr": 3e-3, "batch_size": 64},
    "lstm": {"lr": 3e-3, "batch_size": 64},
    "gru": {"lr": 3e-3, "batch_size": 64},
}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in its checkpoint)."""

    model: str = "mlp"
    data: str = "digits"
    data_dir: str | None = None
    epochs: int = 40
    batch_size: int | None = None  # None: the model's default (MODEL_DEFAULTS)
    optimizer: str = "adam"
    lr: float | None = None  # None: the model's default (MODEL_DEFAULTS)
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    hidden: tuple[int, ...] = (256, 256)
    dropout: float = 0.2
    activation: str = "relu"  # the MLP's hidden activation (models.ACTIVATIONS)
    seed: int = 0
    out: str = "runs/digits-mlp"
    checkpoint_every: int = 50  # steps between mid-epoch checkpoints
    progress: bool = True
    threads: int = 1  # BLAS threads: small models run fastest on one (no oversubscription)
    compile: bool = True  # cr.compile the training step (bit-identical to eager, faster)
    device: str = "cpu"  # "cpu", "cuda" or "cuda:N" (CUDA through CuPy; the step runs eagerly)

    def validate(self) -> None:
        """Raise TrainError naming the first bad option; fill in the model's defaults."""
        if self.model not in models.MODELS:
            raise TrainError(f"unknown model {self.model!r}; choose one of "
                             f"{', '.join(models.MODELS)}")
        defaults = MODEL_DEFAULTS.get(self.model, {})
        if self.lr is None:
            self.lr = defaults.get("lr", 1e-3)
        if self.batch_size is None:
            self.batch_size = int(defaults.get("batch_size", 32))
        if self.data not in DATASETS:
            raise TrainError(f"unknown data set {self.data!r}; choose one of {', '.join(DATASETS)}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise TrainError(f"unknown scheduler {self.scheduler!r}; choose one of "
                             f"{', '.join(SCHEDULERS)}")
        for name in ("epochs", "batch_size", "checkpoint_every", "threads"):
            if getattr(self, name) <= 0:
                raise TrainError(f"--{name.replace('_', '-')} must be positive, "
                                 f"got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise TrainError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in models.ACTIVATIONS:
            raise TrainError(f"unknown activation {self.activation!r}; choose one of "
                             f"{', '.join(models.ACTIVATIONS)}")
        if not self.lr > 0:
            raise TrainError(f"--lr must be positive, got {self.lr}")
        config_check.check_options(self)  # finite values, seed range, --hidden 0: no layer


@dataclasses.dataclass
class TrainResult:
    """What a finished run reports."""

    test_accuracy: float
    test_loss: float
    epochs: int
    seconds: float
    run_dir: Path
    history: list[dict[str, float]]


def load_data(cfg: TrainConfig) -> tuple[Any, Any]:
    """The train and test datasets named by cfg.data."""
    if cfg.data == "digits":
        try:
            return cr.datasets.digits("train"), cr.datasets.digits("test")
        except ImportError as e:
            raise TrainError(f"the digits data set needs scikit-learn ({e}); "
                             "install it with: pip install 'chainrule[train]'") from None
    if cfg.data in ("mnist", "fashion-mnist"):
        if not cfg.data_dir:
            raise TrainError(f"--data {cfg.data} needs --data-dir (a folder with the IDX files)")
        root = Path(cfg.data_dir)
        if not root.is_dir():
            raise TrainError(f"data folder {str(root)!r} does not exist")
        loader = cr.datasets.mnist if cfg.data == "mnist" else cr.datasets.fashion_mnist
        try:
            return loader(root, "train"), loader(root, "test")
        except (OSError, ValueError) as e:
            raise TrainError(f"cannot read {cfg.data} from {str(root)!r}: {e}") from None
    if cfg.data == "xor":
        return cr.datasets.xor(n=512, seed=cfg.seed), cr.datasets.xor(n=256, seed=cfg.seed + 1)
    return (cr.datasets.two_spirals(n=512, seed=cfg.seed),
            cr.datasets.two_spirals(n=256, seed=cfg.seed + 1))


def _host(v: Any) -> np.ndarray:
    """A sample or a dataset's tensor as an ndarray (a host copy of a CUDA tensor)."""
    return v.numpy(force=True) if isinstance(v, cr.Tensor) else np.asarray(v)


def _arrays(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = dataset[0]
    return _host(x), _host(y)


def _num_classes(*datasets: Any) -> int:
    top = 0
    for ds in datasets:
        for t in getattr(ds, "tensors", ()):
            data = _host(t)
            if data.dtype.kind in "iu":
                top = max(top, int(data.max()) + 1)
    return top


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> optim.Optimizer:
    """The optimizer named by cfg.optimizer over model's parameters."""
    params = list(model.parameters())
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad}[cfg.optimizer]
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: TrainConfig, opt: optim.Optimizer) -> Any:
    """The per-epoch learning-rate schedule named by cfg.scheduler (None for 'none')."""
    sched = optim.lr_scheduler
    if cfg.scheduler == "step":
        return sched.StepLR(opt, step_size=max(cfg.epochs // 3, 1), gamma=0.1)
    if cfg.scheduler == "exponential":
        return sched.ExponentialLR(opt, gamma=0.95)
    if cfg.scheduler == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None


def evaluate(model: nn.Module, dataset: Any, batch_size: int = 1000,
             device: Any = "cpu") -> tuple[float, float]:
    """Mean cross-entropy and accuracy of model (on device) on dataset."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, correct, n = 0.0, 0, 0
    with cr.no_grad():
        for xb, yb in DataLoader(dataset, batch_size=batch_size):
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            total += float(loss_fn(out, yb).item())
            correct += int((out._data.argmax(axis=-1) == yb._data).sum())
            n += len(yb._data)
    model.train()
    return total / max(n, 1), correct / max(n, 1)


class _Run:
    """The state of one run: model, optimizer, schedule, loader and counters."""

    def __init__(self, cfg: TrainConfig, saved_model: Mapping[str, Any] | None = None) -> None:
        self.cfg = cfg
        cr.manual_seed(cfg.seed)
        self.train_set, self.test_set = load_data(cfg)
        config_check.check_data(cfg, self.train_set, self.test_set)
        x0, _ = _arrays(self.train_set)
        num_classes = _num_classes(self.train_set, self.test_set)
        # before allocating: a checkpoint's config may not size the model past its own tensors
        config_check.check_model_size(cfg, x0.shape, num_classes, saved_model)
        kwargs: dict[str, Any] = (
            {"hidden": tuple(cfg.hidden), "dropout": cfg.dropout, "activation": cfg.activation}
            if cfg.model == "mlp" else {})
        self.model = models.build(cfg.model, x0.shape, num_classes, **kwargs)
        self.device = cr.device(cfg.device)
        self.model.to(self.device)  # before the optimizer: its state follows the parameters
        self.opt = make_optimizer(cfg, self.model)
        self.sched = make_scheduler(cfg, self.opt)
        self.loader = DataLoader(self.train_set, batch_size=cfg.batch_size, shuffle=True,
                                 seed=cfg.seed)
        self.epoch = 0
        self.step = 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0}
        self.history: list[dict[str, float]] = []
        self.net: nn.Module = self.model  # what training batches go through
        self.writer = True  # whether this process writes the run folder

    def totals(self) -> dict[str, Any]:
        """This epoch's loss sum, correct count and samples seen so far."""
        return self.sums

    def evaluate(self) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on the test split."""
        return evaluate(self.model, self.test_set, device=self.device)

    def save(self, path: Path) -> None:
        """Write the checkpoint (atomically); never weights that became NaN/Inf."""
        config_check.check_finite_model(list(self.model.parameters()), self.epoch, self.step,
                                        path.parent)
        try:
            cr.save(self.state(), path)
        except OSError as e:  # a full disk, a file-size limit
            raise TrainError(f"cannot write {str(path)!r} ({e.strerror or e}); the previous "
                             "checkpoint is kept") from None

    def state(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly."""
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict() if self.sched is not None else {},
            "loader": self.loader.state_dict(),
            "progress": {"epoch": self.epoch, "step": self.step, **self.sums},
            "json": json.dumps({"rng": get_rng_state(), "history": self.history,
                                "config": dataclasses.asdict(self.cfg)}),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint written by state()."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.sched is not None:
            self.sched.load_state_dict(state["scheduler"])
        self.loader.load_state_dict(state["loader"])
        prog = state["progress"]
        self.epoch, self.step = int(prog["epoch"]), int(prog["step"])
        self.sums = {"loss": float(prog["loss"]), "correct": int(prog["correct"]),
                     "seen": int(prog["seen"])}
        extra = json.loads(state["json"])
        set_rng_state(extra["rng"])
        self.history = extra["history"]


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The checkpoint of a run folder; TrainError if missing or unreadable."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise TrainError(f"no checkpoint at {str(path)!r}")
    try:
        state = cr.load(path)
        config_check.check_checkpoint(state)
        return state
    except (OSError, ValueError, TrainError) as e:
        raise TrainError(f"corrupt checkpoint {str(path)!r}: {e}") from None


def config_of(state: dict[str, Any]) -> TrainConfig:
    """The TrainConfig saved in a checkpoint (checked by read_checkpoint), validated."""
    cfg = TrainConfig(**config_check.resume_config(json.loads(state["json"])["config"]))
    try:
        cfg.validate()
        # a lower bound before the data are known: inputs and classes of size 1
        config_check.check_model_size(cfg, (1,), 1, state["model"])
    except TrainError as e:
        raise TrainError(f"checkpoint config: {e}") from None
    return cfg


def _write_metrics(run_dir: Path, history: list[dict[str, float]]) -> None:
    tmp = run_dir / (METRICS + ".tmp")
    with open(tmp, "w") as f:
        for row in history:
            f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, run_dir / METRICS)


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Save the learning curves (loss and accuracy per epoch) as a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise TrainError("the learning-curve plot needs matplotlib: "
                         "pip install 'chainrule[train]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    ax2.plot(epochs, [h["test_accuracy"] for h in history], label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(cfg: TrainConfig | None = None, resume: str | Path | None = None,
          on_step: Callable[[int], None] | None = None,
          log: Callable[[str], None] = print, *, overrides: Mapping[str, Any] | None = None,
          allow_nan: bool = False) -> TrainResult:
    """Train cfg's model on cfg's data, or continue the run in ``resume``; returns the result.

    Writes the run folder: checkpoint (model, optimizer, schedule, loader position, RNG),
    metrics.jsonl (one JSON line per epoch) and curves.png. With ``resume``, ``overrides``
    (TrainConfig fields) may change ``epochs`` (extending the run), ``progress``, ``threads``
    and ``checkpoint_every``; any other field that differs from the run's is refused. A
    checkpoint holding NaN/Inf is refused unless ``allow_nan``. A run whose loss becomes
    NaN/Inf stops with TrainError, its last checkpoint from before the divergence.
    """
    cfg, state = prepare(cfg, resume, overrides=overrides, allow_nan=allow_nan)
    make_run = _Run if state is None else functools.partial(_Run, saved_model=state["model"])
    # overflow to Inf/NaN is reported once, as divergence (check_loss), not as NumPy warnings
    with _blas_threads(cfg.threads), np.errstate(over="ignore", invalid="ignore"):
        return _train(cfg, state, resume, on_step, log, make_run)


def prepare(cfg: TrainConfig | None, resume: str | Path | None, *,
            overrides: Mapping[str, Any] | None = None, allow_nan: bool = False,
            ) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The validated config of a run, and the checkpoint to resume from (None: a new run)."""
    state = None
    if resume is not None:
        state = read_checkpoint(Path(resume))
        cfg = config_of(state)
        cfg.out = str(resume)
        config_check.apply_overrides(cfg, overrides or {}, state["progress"]["epoch"])
        if not allow_nan:
            config_check.check_finite_weights(state, str(resume))
    cfg = cfg or TrainConfig()
    cfg.validate()
    if resume is None:
        config_check.check_out_dir(cfg.out)
    return cfg, state


def _blas_threads(n: int) -> Any:
    """A context limiting BLAS to n threads (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - the train extra installs it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _train(cfg: TrainConfig, state: dict[str, Any] | None, resume: str | Path | None,
           on_step: Callable[[int], None] | None, log: Callable[[str], None],
           make_run: Callable[[TrainConfig], _Run] = _Run) -> TrainResult:
    run = make_run(cfg)
    if state is not None:
        fresh = run.sched.state_dict() if run.sched is not None else {}
        try:
            config_check.check_resume_state(state, run.opt, run.sched)
            run.restore(state)
        except (KeyError, ValueError, RuntimeError, TrainError) as e:
            raise TrainError(f"corrupt checkpoint in {str(resume)!r}: {e}") from None
        config_check.extend_schedule(run.sched, fresh, config_of(state).epochs, cfg.epochs)
    run_dir = Path(cfg.out)
    if run.writer:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TrainError(f"cannot create the run folder {cfg.out!r} ({e.strerror or e})"
                             ) from None
        remove_stale_temporaries(run_dir / CHECKPOINT)  # left by a killed run
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    model, opt = run.model, run.opt
    model.train()
    on_cpu = run.device.type == "cpu"  # cr.compile's replay buffers are NumPy's
    step = (_compiled_step(run.net, loss_fn, opt) if cfg.compile and run.net is model and on_cpu
            else None)
    while run.epoch < cfg.epochs:
        bar = _progress(run, cfg)
        for xb, yb in run.loader:
            if not on_cpu or type(xb._data) is not np.ndarray:  # data made on another device
                xb, yb = xb.to(run.device), yb.to(run.device)
            if step is not None:  # the same computation in the same order, replayed
                loss, out = step(xb, yb)
                config_check.check_loss(float(loss.item()), run.epoch, run.step + 1, run_dir)
            else:
                out = run.net(xb)
                loss = loss_fn(out, yb)
                config_check.check_loss(float(loss.item()), run.epoch, run.step + 1, run_dir)
                opt.zero_grad()
                loss.backward()
                opt.step()
            n = len(yb._data)
            run.sums["loss"] += float(loss.item()) * n
            run.sums["correct"] += int((out._data.argmax(axis=-1) == yb._data).sum())
            run.sums["seen"] += n
            run.step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{run.sums['loss'] / run.sums['seen']:.4f}",
                                acc=f"{run.sums['correct'] / run.sums['seen']:.3f}")
            if run.step % cfg.checkpoint_every == 0:
                run.save(run_dir / CHECKPOINT)
            if on_step is not None:
                on_step(run.step)
        if run.sched is not None:
            run.sched.step()
        test_loss, test_acc = run.evaluate()
        sums = run.totals()
        seen = max(sums["seen"], 1)
        if bar is not None:
            bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}",
                            acc=f"{sums['correct'] / seen:.3f}", test_acc=f"{test_acc:.3f}")
            bar.close()
        row = {"epoch": run.epoch + 1, "step": run.step,
               "train_loss": sums["loss"] / seen, "train_accuracy": sums["correct"] / seen,
               "test_loss": test_loss, "test_accuracy": test_acc,
               "lr": float(opt.param_groups[0]["lr"])}
        run.history.append(row)
        run.epoch += 1
        run.sums = {"loss": 0.0, "correct": 0, "seen": 0}
        run.save(run_dir / CHECKPOINT)
        if run.writer:
            _write_metrics(run_dir, run.history)
        if not cfg.progress:
            log(f"epoch {row['epoch']}/{cfg.epochs}: train loss {row['train_loss']:.4f}, "
                f"test accuracy {test_acc:.4f}")
    if run.writer:
        plot_curves(run.history, run_dir / PLOT)
    last = run.history[-1]
    return TrainResult(test_accuracy=last["test_accuracy"], test_loss=last["test_loss"],
                       epochs=cfg.epochs, seconds=time.perf_counter() - start, run_dir=run_dir,
                       history=run.history)


def _compiled_step(net: nn.Module, loss_fn: Any, opt: optim.Optimizer) -> Any:
    """The loop's step (forward, loss, zero_grad, backward, step) under cr.compile; a step that
    is not compilable (a model reading values into Python) runs eagerly without a warning."""

    def train_step(xb: Any, yb: Any) -> tuple[Any, Any]:
        out = net(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, out

    compiled = cr.compile(train_step)

    def step(xb: Any, yb: Any) -> tuple[Any, Any]:
        if compiled.eager:
            return train_step(xb, yb)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cr.CompileWarning)
            return compiled(xb, yb)

    return step


def _progress(run: _Run, cfg: TrainConfig) -> Any:
    if not cfg.progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        raise TrainError("the progress bar needs tqdm: pip install 'chainrule[train]' "
                         "(or pass --no-progress)") from None

    done = run.loader.state_dict().get("position", 0) if run.sums["seen"] else 0
    return tqdm(total=len(run.loader), initial=int(done), desc=f"epoch {run.epoch + 1}/"
                f"{cfg.epochs}", leave=True, dynamic_ncols=True)


def evaluate_run(run_dir: str | Path) -> tuple[float, float]:
    """Re-evaluate the checkpoint of a run folder on its test split: (loss, accuracy)."""
    state = read_checkpoint(Path(run_dir))
    cfg = config_of(state)
    run = _Run(cfg, saved_model=state["model"])
    try:
        run.model.load_state_dict(state["model"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise TrainError(f"corrupt checkpoint in {str(run_dir)!r}: {e}") from None
    bad = list(config_check.nonfinite_tensors(state["model"]))
    if bad:
        warnings.warn(f"checkpoint in {str(run_dir)!r}: NaN/Inf in {', '.join(bad[:3])}",
                      RuntimeWarning, stacklevel=2)
        with np.errstate(all="ignore"):  # the warning above says it all
            return evaluate(run.model, run.test_set, device=run.device)
    return evaluate(run.model, run.test_set, device=run.device)
