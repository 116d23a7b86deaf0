"""``cr.compile``: record a step once per signature, replay it after, or honestly run eagerly."""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from typing import Any

from chainrule.autodiff import function
from chainrule.autodiff.modes import STATE
from chainrule.compile import tape as T
from chainrule.compile.patches import recording
from chainrule.compile.recorder import NotCompilable, Recorder
from chainrule.tensor import Tensor

_SCALARS = (int, float, bool, str, type(None))


class CompileWarning(UserWarning):
    """A compiled function was found not compilable and runs eagerly from now on."""


class Compiled:
    """A function of Tensors (and Python scalars) recorded on its first call per signature.

    The signature is each Tensor argument's shape, dtype and requires_grad, the value of each
    scalar argument, and grad mode; a tape also guards the training flag and the parameters of
    every module the step called, and the shape, dtype and requires_grad of every tensor it read
    that is not an argument. Values the step captures from Python (globals, closure variables,
    hyperparameters passed to ops) are constants of the tape, as with ``jax.jit``; optimizer
    hyperparameters and state are read live by the optimizer's own loop. Random draws (dropout,
    ``cr.randn``) are drawn afresh on every replay from the generator eager would use, in eager's
    order, so compiled and eager runs from one seed give the same bits.

    Attributes:
        eager: set (with a CompileWarning naming the line) once the step proved not compilable.
        stats: counts of ``records``, ``replays`` and ``bails`` (value guards that failed).
    """

    def __init__(self, fn: Any, cache_size: int = 8) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.cache_size = cache_size
        self.cache: OrderedDict[tuple, list[T.Tape]] = OrderedDict()
        self.eager = False
        self.reason: str | None = None
        self.stats = {"records": 0, "replays": 0, "bails": 0}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.fn
        if (self.eager or kwargs or STATE.anomaly or STATE.fw_levels or STATE.reverse_depth
                or function.RECORDER is not None):
            return fn(*args, **kwargs)
        key = _signature(args)
        if key is None:
            return fn(*args)
        tapes = self.cache.get(key)
        if tapes is not None:
            self.cache.move_to_end(key)
            for tape in tapes:
                if tape.guards_hold():
                    out = tape.replay(args)
                    if out is not T.BAIL:
                        self.stats["replays"] += 1
                        return out
                    self.stats["bails"] += 1
                    return fn(*args)
        return self._record(key, args)

    def _record(self, key: tuple, args: tuple) -> Any:
        rec = Recorder(args)
        with recording(rec):
            out = self.fn(*args)
        try:
            tape = rec.finish(out)
        except NotCompilable:
            self._give_up(rec)
            return out
        self.stats["records"] += 1
        tapes = self.cache.setdefault(key, [])
        tapes.insert(0, tape)
        del tapes[4:]
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return out

    def _give_up(self, rec: Recorder) -> None:
        reason, file, line = rec.failure or ("unknown", "<unknown>", 0)
        self.eager = True
        self.reason = f"{reason} (at {file}:{line})"
        self.cache.clear()
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        warnings.warn_explicit(
            f"cr.compile: {name} is not compilable: {reason}; it runs eagerly from now on",
            CompileWarning, file, line)


def _signature(args: tuple) -> tuple | None:
    """The cache key of a call, or None when an argument cannot be guarded (run eagerly)."""
    key: list[Any] = [STATE.grad_enabled]
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            key.append((d.shape, d.dtype.str, a.requires_grad, a._node is None))
        elif isinstance(a, _SCALARS):
            key.append((type(a), a))
        else:
            return None
    return tuple(key)


def compile(fn: Any = None, *, cache_size: int = 8) -> Any:
    """Record ``fn`` on its first call per signature and replay the recorded rule calls after.

    Usable as ``cr.compile(fn)``, ``@cr.compile`` or ``@cr.compile(cache_size=...)``.
    """
    if fn is None:
        return functools.partial(compile, cache_size=cache_size)
    return Compiled(fn, cache_size)
