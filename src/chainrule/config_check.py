"""Checks of training options and of checkpoints before use: one-line errors naming the field.

``chainrule train`` and ``chainrule eval`` trust nothing they read: command-line values, the run
folder and every part of a checkpoint (its config, progress counters, RNG state, optimizer,
scheduler and loader state, tensor shapes and values) are checked here before they size a model,
reach a rule or start a loop. Each problem raises ``TrainError`` with one line naming the option or
the checkpoint field, which the CLI prints with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.tensor import Tensor

__all__ = ["TrainError", "check_checkpoint", "check_data", "check_finite_model",
           "check_finite_weights", "check_loss", "check_model_size", "check_options",
           "check_out_dir", "check_resume_state", "config_fields", "explicit_options",
           "nonfinite_tensors", "resume_config"]

MAX_PARAMETERS = 2 ** 30  # 4 GiB of float32: a larger model is a typo, not a plan
MAX_SEED = 2 ** 63
# Options that may change on --resume without changing what the run computes (epochs extends it).
RESUME_OPTIONS = frozenset({"epochs", "progress", "threads", "checkpoint_every", "compile"})
# Models that read images: the input rank they need and the smallest height and width.
_IMAGE_MODELS = {"lenet5": (3, 2), "resnet": (3, 1), "lstm": (2, 1), "gru": (2, 1)}
_STATE_KEYS = frozenset({"model", "optimizer", "scheduler", "loader", "progress", "json"})
_EXTRA_KEYS = frozenset({"rng", "history", "config"})
_PROGRESS_KEYS = {"epoch": int, "step": int, "loss": float, "correct": int, "seen": int}
_LOADER_KEYS = {"epoch": int, "position": int, "seed": int, "shuffle": bool, "batch_size": int,
                "num_samples": int}


class TrainError(Exception):
    """A problem the user can fix (bad option, missing data, corrupt checkpoint)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _is_number(v: Any) -> bool:
    return _is_int(v) or isinstance(v, float | np.floating)


def _finite(v: Any) -> bool:
    return _is_number(v) and math.isfinite(v)


# ----- command-line options (also the config saved in a checkpoint) -----

def check_options(cfg: Any) -> None:
    """Range checks TrainConfig.validate leaves out; ``hidden == (0,)`` becomes ``()``.

    ``--hidden 0`` means no hidden layer: the MLP is then multinomial logistic regression.
    """
    if not (_finite(cfg.lr) and cfg.lr > 0):
        raise TrainError(f"--lr must be a positive finite number, got {cfg.lr}")
    for name in ("weight_decay", "momentum"):
        value = getattr(cfg, name)
        if not (_finite(value) and value >= 0):
            raise TrainError(f"--{name.replace('_', '-')} must be a finite number >= 0, "
                             f"got {value}")
    if not 0 <= cfg.seed < MAX_SEED:
        raise TrainError(f"--seed must be in [0, 2**63), got {cfg.seed}")
    hidden = tuple(cfg.hidden)
    if any(h < 0 for h in hidden):
        raise TrainError(f"--hidden widths must be >= 0, got {' '.join(map(str, hidden))}")
    if 0 in hidden:
        if hidden != (0,):
            raise TrainError("--hidden 0 (no hidden layer) must stand alone, got "
                             + " ".join(map(str, hidden)))
        hidden = ()
    cfg.hidden = hidden


def check_out_dir(out: str | os.PathLike[str], option: str = "--out") -> None:
    """The run folder can be created: not a file, not under a file, names not too long."""
    path = Path(out)
    name_max = 255
    for parent in path.parents:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if parent.is_dir():
                name_max = os.pathconf(parent, "PC_NAME_MAX")
                break
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise TrainError(f"{option}: the name {part[:40]!r}... is {len(os.fsencode(part))} "
                             f"bytes, longer than this file system's limit of {name_max}")
    if len(os.fsencode(str(path))) >= 4096:
        raise TrainError(f"{option}: the path is longer than 4095 bytes")
    if path.exists() and not path.is_dir():
        raise TrainError(f"{option} {str(path)!r} is an existing file, not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise TrainError(f"{option} {str(path)!r} lies under {str(parent)!r}, "
                                 "which is a file")
            break


def explicit_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> dict[str, Any]:
    """The TrainConfig fields that argv's ``train`` options set explicitly (defaults left out)."""
    stack = [parser]
    while stack:  # every default suppressed, so only options on the command line remain
        p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif action.dest != "help":
                action.default = argparse.SUPPRESS
    given = vars(parser.parse_args(list(argv)))
    fields = config_fields()
    out = {k: v for k, v in given.items() if k in fields}
    if "no_progress" in given:
        out["progress"] = not given["no_progress"]
    if "hidden" in out:
        out["hidden"] = tuple(out["hidden"])
    return out


# ----- checkpoints -----

def config_fields() -> dict[str, dataclasses.Field]:
    """TrainConfig's fields by name."""
    from chainrule.training import TrainConfig

    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def _check_field(name: str, value: Any, annotation: str) -> Any:
    """value as a field annotated annotation wants it; TrainError naming the field if not."""
    kinds = [a.strip() for a in str(annotation).split("|")]
    if value is None and "None" in kinds:
        return None
    base = next((k for k in kinds if k != "None"), "")
    where = f"checkpoint config field {name!r}"
    if base.startswith("tuple"):
        if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
            raise TrainError(f"{where} must be a list of integers, got {str(value)[:80]}")
        return tuple(int(v) for v in value)
    if base == "float":
        if not _is_number(value):
            raise TrainError(f"{where} must be a number, got {str(value)[:80]}")
        return float(value)
    want = {"int": _is_int, "str": lambda v: isinstance(v, str),
            "bool": lambda v: isinstance(v, bool)}.get(base)
    if want is not None and not want(value):
        raise TrainError(f"{where} must be {'an' if base == 'int' else 'a'} {base}, "
                         f"got {str(value)[:80]}")
    return value


def resume_config(raw: Any) -> dict[str, Any]:
    """The keyword arguments of TrainConfig from a checkpoint's saved config, each checked."""
    if not isinstance(raw, dict):
        raise TrainError(f"checkpoint config must be an object, got {str(raw)[:80]}")
    fields = config_fields()
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise TrainError(f"checkpoint config has unknown fields {', '.join(map(repr, unknown))}")
    return {k: _check_field(k, v, fields[k].type) for k, v in raw.items()}


def _require(ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise TrainError(f"checkpoint field {what} is invalid: {str(value)[:80]}")


def _exact_keys(obj: Any, keys: Any, what: str) -> None:
    if not isinstance(obj, dict):
        raise TrainError(f"checkpoint field {what} must be an object, got {str(obj)[:80]}")
    missing, unknown = sorted(set(keys) - set(obj)), sorted(set(obj) - set(keys), key=str)
    if missing or unknown:
        raise TrainError(f"checkpoint field {what}: missing {missing or 'nothing'}, "
                         f"unknown {unknown or 'nothing'}")


def check_checkpoint(state: Any) -> dict[str, Any]:
    """Check a checkpoint's structure; returns its parsed ``json`` part (rng, history, config)."""
    _exact_keys(state, _STATE_KEYS, "(top level)")
    if not isinstance(state["json"], str):
        raise TrainError("checkpoint field 'json' must be a string")
    try:
        extra = json.loads(state["json"])
    except RecursionError:
        raise TrainError("checkpoint field 'json' is nested too deeply") from None
    except ValueError as e:
        raise TrainError(f"checkpoint field 'json' is not JSON ({e})") from None
    if not isinstance(extra, dict) or "config" not in extra:
        raise TrainError("checkpoint has no config (field 'json' must hold an object with "
                         "'config', 'rng' and 'history')")
    _exact_keys(extra, _EXTRA_KEYS, "'json'")
    resume_config(extra["config"])
    _check_rng(extra["rng"])
    history = extra["history"]
    _require(isinstance(history, list) and all(
        isinstance(row, dict) and all(isinstance(k, str) and _is_number(v)
                                      for k, v in row.items()) for row in history),
        "'history'", history)
    _exact_keys(state["progress"], _PROGRESS_KEYS, "'progress'")
    for key, kind in _PROGRESS_KEYS.items():
        value = state["progress"][key]
        ok = _is_int(value) and value >= 0 if kind is int else _finite(value)
        _require(ok, f"'progress.{key}'", value)
    _require(len(history) == state["progress"]["epoch"], "'history' (one row per epoch done)",
             f"{len(history)} rows, epoch {state['progress']['epoch']}")
    _exact_keys(state["loader"], _LOADER_KEYS, "'loader'")
    for key, kind in _LOADER_KEYS.items():
        value = state["loader"][key]
        ok = isinstance(value, bool) if kind is bool else (
            (value is None and key == "seed") or (_is_int(value) and value >= 0))
        _require(ok, f"'loader.{key}'", value)
    model = state["model"]
    _require(isinstance(model, dict) and all(
        isinstance(k, str) and isinstance(v, np.ndarray | Tensor) for k, v in model.items()),
        "'model' (names to tensors)", type(model).__name__)
    return extra


def _check_rng(rng: Any) -> None:
    """The RNG state must set a generator of the global one's kind."""
    from chainrule.creation import get_rng_state

    _exact_keys(rng, get_rng_state(), "'rng'")
    try:
        bit_generator = getattr(np.random, get_rng_state()["bit_generator"])()
        bit_generator.state = rng
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise TrainError(f"checkpoint field 'rng' is invalid ({e})") from None


def check_resume_state(state: dict[str, Any], opt: Any, sched: Any) -> None:
    """The optimizer and scheduler state match the freshly built ones in structure and type."""
    saved, live = state["optimizer"], opt.state_dict()
    _exact_keys(saved, ("state", "param_groups"), "'optimizer'")
    groups = saved["param_groups"]
    _require(isinstance(groups, list) and len(groups) == len(live["param_groups"]),
             "'optimizer.param_groups'", groups)
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, (group, own) in enumerate(zip(groups, live["param_groups"], strict=True)):
        _exact_keys(group, own, f"'optimizer.param_groups.{i}'")
        for key, value in group.items():
            _check_like(value, own[key], f"'optimizer.param_groups.{i}.{key}'", len(params))
    entries = saved["state"]
    _require(isinstance(entries, dict), "'optimizer.state'", entries)
    for index, values in entries.items():
        where = f"'optimizer.state.{index}'"
        _require(_is_int(index) and 0 <= index < len(params) and isinstance(values, dict),
                 where, index)
        shape = params[index].shape
        for key, value in values.items():
            value = value._data if isinstance(value, Tensor) else value
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            ok = _finite(value) if key == "step" else (
                value is None or _is_number(value)
                or (isinstance(value, np.ndarray) and value.shape == shape))
            _require(ok, f"{where[:-1]}.{key}'", getattr(value, "shape", value))
    own = sched.state_dict() if sched is not None else {}
    _exact_keys(state["scheduler"], own, "'scheduler'")
    for key, value in state["scheduler"].items():
        _check_like(value, own[key], f"'scheduler.{key}'", len(groups))
        if key in ("T_max", "step_size"):
            _require(value > 0, f"'scheduler.{key}' (must be positive)", value)


def _check_like(value: Any, like: Any, what: str, size: int) -> None:
    """value has like's kind: bool, finite number, str, None, or a list/tuple of numbers."""
    if isinstance(like, bool):
        ok = isinstance(value, bool)
    elif _is_number(like):
        ok = _finite(value) and (not _is_int(like) or _is_int(value))
    elif isinstance(like, list | tuple):
        ok = (isinstance(value, list | tuple) and len(value) <= max(size, len(like))
              and all(_is_int(v) if isinstance(v, int) else _finite(v) for v in value))
    else:
        ok = type(value) is type(like)
    _require(ok, what, value)


def nonfinite_tensors(state: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Names (dotted paths) of the floating tensors in state holding NaN or Inf."""
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from nonfinite_tensors(value, name + ".")
            continue
        array = value._data if isinstance(value, Tensor) else value
        if (isinstance(array, np.ndarray) and array.dtype.kind in "fc"
                and not np.isfinite(array).all()):
            yield name


def check_finite_weights(state: Mapping[str, Any], where: str) -> None:
    """Refuse to resume from weights or optimizer state holding NaN/Inf (``--allow-nan``)."""
    bad = list(nonfinite_tensors({k: state[k] for k in ("model", "optimizer")}))
    if bad:
        raise TrainError(f"checkpoint in {where!r} has NaN/Inf in {', '.join(bad[:3])}"
                         f"{' and more' if len(bad) > 3 else ''}; pass --allow-nan to resume "
                         "anyway")


def _mlp_parameters(in_features: int, hidden: Sequence[int], classes: int) -> int:
    widths = [in_features, *hidden, classes]
    return sum((a + 1) * b for a, b in itertools.pairwise(widths))


def check_model_size(cfg: Any, input_shape: tuple[int, ...], num_classes: int,
                     saved: Mapping[str, Any] | None = None) -> None:
    """Before building: the model's size is sane and, when loading, within the file's tensors."""
    if cfg.model != "mlp":
        return
    need = _mlp_parameters(math.prod(input_shape), cfg.hidden, num_classes)
    if need > MAX_PARAMETERS:
        raise TrainError(f"--hidden {' '.join(map(str, cfg.hidden))} makes an MLP of {need:,} "
                         f"parameters, over the limit of {MAX_PARAMETERS:,}")
    if saved is not None:
        have = sum(int(np.prod(np.shape(v))) for v in saved.values())
        if need > have:
            raise TrainError(f"checkpoint config hidden={list(cfg.hidden)} needs {need:,} "
                             f"weights but the file holds {have:,}: config and tensors disagree")


def check_data(cfg: Any, train_set: Any, test_set: Any) -> None:
    """Both splits hold samples, and the model can read inputs of their shape."""
    for split, ds in (("train", train_set), ("test", test_set)):
        if len(ds) == 0:
            raise TrainError(f"the {split} split of --data {cfg.data} holds 0 samples")
    input_shape = np.shape(train_set[0][0])
    rank, side = _IMAGE_MODELS.get(cfg.model, (0, 0))
    if cfg.model == "lenet5" and len(input_shape) == rank and input_shape[-1] >= 20:
        side = 12  # two 5x5 stages and two poolings (models.lenet5, for inputs of 20+ pixels)
    if rank and (len(input_shape) < rank or min(input_shape[-2:]) < side):
        raise TrainError(f"--model {cfg.model} needs inputs of rank {rank} and at least "
                         f"{side}x{side} pixels; --data {cfg.data} has {input_shape}")


def _diverged(what: str, epoch: int, step: int, run_dir: Path) -> TrainError:
    return TrainError(f"training diverged: {what} at step {step} (epoch {epoch + 1}); the last "
                      f"good checkpoint is kept in {str(run_dir)!r}; try a lower --lr")


def check_loss(loss: float, epoch: int, step: int, run_dir: Path) -> None:
    """Stop a diverged run (loss NaN or Inf) before the step that would use it.

    Args:
        step: the number of the step about to run (1-based).
    """
    if not math.isfinite(loss):
        raise _diverged(f"the loss is {loss}", epoch, step, run_dir)


def check_finite_model(params: Sequence[Any], epoch: int, step: int, run_dir: Path) -> None:
    """Refuse to checkpoint weights that have become NaN/Inf, so the last checkpoint stays good."""
    if not all(np.isfinite(p._data).all() for p in params):
        raise _diverged("the weights became NaN/Inf", epoch, step, run_dir)


def apply_overrides(cfg: Any, overrides: Mapping[str, Any], done_epochs: int) -> None:
    """Options given with --resume: refuse those that contradict the run, apply the others.

    ``epochs`` extends (or shortens, not below the epochs done) the run; ``progress``,
    ``threads``, ``checkpoint_every`` and ``compile`` change how it runs, not what it computes.
    """
    overrides = dict(overrides)
    if tuple(overrides.get("hidden", ())) == (0,):
        overrides["hidden"] = ()
    conflicts = []
    for key, value in overrides.items():
        own = getattr(cfg, key)
        same = Path(value) == Path(own) if key == "out" else value == own
        if key not in RESUME_OPTIONS and not same:
            flag = f"--{key.replace('_', '-')}"
            conflicts.append(f"{flag} {value!r} (the run has {own!r})")
    if conflicts:
        raise TrainError(f"--resume {cfg.out}: {'; '.join(conflicts)} conflicts with the run's "
                         "config; drop it, or start a new run with another --out")
    epochs = overrides.get("epochs", cfg.epochs)
    if _is_int(epochs) and epochs < done_epochs:
        raise TrainError(f"--epochs {epochs}: the run in {cfg.out} has already done "
                         f"{done_epochs} epochs")
    for key in RESUME_OPTIONS & set(overrides):
        setattr(cfg, key, overrides[key])


def extend_schedule(sched: Any, fresh: Mapping[str, Any], saved_epochs: int, epochs: int) -> None:
    """After restoring a run whose epochs changed: the schedule's horizon (fresh, from the
    scheduler built for the new epochs) replaces the saved one, and the lr is set to its
    closed form at the current epoch, so the rest of the run follows a schedule planned for
    ``epochs``."""
    if sched is None or saved_epochs == epochs:
        return
    horizon = {k: fresh[k] for k in ("T_max", "step_size") if k in fresh}
    if horizon:
        sched.__dict__.update(horizon)
        sched.step(sched.last_epoch)
