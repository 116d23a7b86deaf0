"""Library entry points wrapped while a step is recorded, and put back afterwards.

Nothing here runs outside a recording: the engine's hot path pays nothing for it. The wrappers
turn the optimizer loop and ``zero_grad`` into tape entries, check the class coefficients that
cross-entropy computes from the targets' values, record the NumPy computations library code does
outside the ops (random draws from chainrule's generators, dropout masks, batch statistics and
BatchNorm's running-statistic updates) as calls replayed on the new values, and fail the recording
on anything whose result the tape could not reproduce: a conversion of a tensor to Python values,
computing with or setting ``.grad`` by hand, a step of an optimizer with its own loop.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.autodiff import function
from chainrule.compile.origins import by_library, user_held
from chainrule.compile.recorder import NotCompilable, Recorder
from chainrule.tensor import Tensor

_VALUE_METHODS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__",
                  "__array__", "__repr__", "__format__")


@contextlib.contextmanager
def recording(rec: Recorder) -> Iterator[None]:
    """Make rec the engine's recorder and wrap the library entry points, for a with block."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, make: Any) -> None:
        orig = owner.__dict__[name]
        saved.append((owner, name, orig))
        setattr(owner, name, make(orig))

    for name in _VALUE_METHODS:
        if name in Tensor.__dict__:
            patch(Tensor, name, lambda orig, n=name: _failing(rec, orig, f"Tensor.{n}() reads "
                                                              "values into Python"))
    patch(Tensor, "grad", lambda orig: _grad_property(rec, orig))
    patch(Tensor, "_make", lambda orig: _made(rec, orig))
    patch(Tensor, "__init__", lambda orig: _tensor_init(rec, orig, 1))
    from chainrule import creation

    global_rng = creation.default_rng
    patch(creation, "default_rng", lambda orig: _default_rng(rec, orig))
    patch(creation, "as_rng", lambda orig: _as_rng(rec, orig, global_rng))
    import chainrule

    for owner in (creation, chainrule):
        for name in ("tensor", "as_tensor"):
            patch(owner, name, lambda orig: _tensor_init(rec, orig, 0))
        for name in _SHAPE_FACTORIES:
            if name in owner.__dict__:
                patch(owner, name, lambda orig: _shape_factory(rec, orig))
    from chainrule.optim import optimizer as opt_mod

    patch(opt_mod.Optimizer, "step", lambda orig: _recorded(rec, orig, undoable=False))
    patch(opt_mod.Optimizer, "zero_grad",
          lambda orig: _recorded(rec, orig, undoable=True, drops_grads=True))
    for cls in _subclasses(opt_mod.Optimizer):
        for name in ("step", "zero_grad"):
            if name in cls.__dict__:
                patch(cls, name, lambda orig, c=cls, n=name: _failing(
                    rec, orig, f"{c.__name__}.{n} (an optimizer with its own loop)"))
    from chainrule.nn import functional, loss_functions, module

    patch(module.Module, "zero_grad",
          lambda orig: _recorded(rec, orig, undoable=True, drops_grads=True))
    patch(module.Module, "__call__", lambda orig: _module_call(rec, orig))
    patch(loss_functions, "_class_coefficients", lambda orig: _coefficients(rec, orig))
    for name in ("batch_stats", "normalize_stats"):
        patch(functional, name, lambda orig: _numpy_unit(rec, orig))
    dropout = sys.modules.get("chainrule.nn.dropout")
    if dropout is not None:
        patch(dropout, "keep_mask", lambda orig: _keep_mask(rec, orig))
    norm = sys.modules.get("chainrule.nn.normalization")
    if norm is not None:
        patch(norm._BatchNorm, "forward", lambda orig: _batchnorm(rec, orig))
    recurrent = sys.modules.get("chainrule.nn.recurrent")
    if recurrent is not None:
        for name in ("_initial", "_weights"):
            patch(recurrent.RNNBase, name, lambda orig: _constants(rec, orig))
        for name in ("_zero_state", "_weights"):
            patch(recurrent.RNNCellBase, name, lambda orig: _constants(rec, orig))
    function.RECORDER = rec
    try:
        yield
    finally:
        function.RECORDER = None
        for owner, name, orig in reversed(saved):
            setattr(owner, name, orig)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def _fail(rec: Recorder, reason: str) -> None:
    with contextlib.suppress(NotCompilable):
        rec.fail(reason)


def _failing(rec: Recorder, orig: Any, reason: str) -> Any:
    """orig, which fails the recording when the step itself calls it."""
    fn = orig.__func__ if isinstance(orig, staticmethod | classmethod) else orig

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not rec.quiet:
            _fail(rec, reason)
        return fn(*args, **kwargs)

    return wrapper


def _recorded(rec: Recorder, orig: Any, undoable: bool, drops_grads: bool = False) -> Any:
    """A library method (optimizer loop, zero_grad) recorded as one call of the original."""

    @functools.wraps(orig)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.quiet:
            return orig(self, *args, **kwargs)
        if kwargs.get("closure") is not None or (args and callable(args[0])):
            _fail(rec, "optimizer.step(closure) (the closure's loss is a Python value)")
        bound = functools.partial(orig, self, *args, **kwargs)
        rec.call(bound, (), undoable, drops_grads)
        rec.quiet += 1
        try:
            return bound()
        finally:
            rec.quiet -= 1
            rec.last_write = function.STATE.last_write

    return wrapper


def _grad_property(rec: Recorder, slot: Any) -> property:
    """Tensor.grad: records ``p.grad = None``, notes reads, fails on other writes by the step."""

    def get(t: Tensor) -> Any:
        value = slot.__get__(t, Tensor)
        if value is not None and not rec.quiet and not rec.in_backward:
            if "/chainrule/" in sys._getframe(1).f_code.co_filename.replace("\\", "/"):
                _fail(rec, "library code read .grad (clip_grad_norm_, ...): not recorded yet")
            rec.grad_read(t, value)
        return value

    def set_(t: Tensor, value: Any) -> None:
        if not rec.quiet and not rec.in_backward:
            try:
                slot.__get__(t, Tensor)
            except AttributeError:  # a Tensor being made
                pass
            else:
                if value is None:
                    rec.set_none(t)
                else:
                    _fail(rec, "assigning .grad inside the step")
        slot.__set__(t, value)

    return property(get, set_)


def _made(rec: Recorder, orig: Any) -> Any:
    """Tensor._make: the arrays library code wraps outside the ops are noted, so an op reading
    one (indices, a count, a value computed on ndarrays) fails the recording instead of
    replaying the recorded value (Recorder.slot)."""
    make = orig.__func__

    def wrapper(cls: type, data: Any, requires_grad: bool, node: Any) -> Tensor:
        if node is None and not rec.quiet and type(data) is np.ndarray:
            rec.note_made(data)
        return make(cls, data, requires_grad, node)

    return classmethod(wrapper)


def _tensor_init(rec: Recorder, orig: Any, pos: int) -> Any:
    """Tensor(data), cr.tensor(data): a copy of a recorded value made outside the ops would be a
    stale constant of the tape."""

    @functools.wraps(orig)
    def init(*args: Any, **kwargs: Any) -> Any:
        data = args[pos] if len(args) > pos else kwargs.get("data")
        out = orig(*args, **kwargs)
        if rec.quiet:
            return out
        t = args[0] if pos else out
        if _holds_tensor(data) or id(data) in rec.slot_of:
            drawn = pos and id(data) in rec.drawn  # Tensor(draw): cr.randn, ...
            if not drawn or t._data is not data or t.requires_grad:
                _fail(rec, "a tensor made from a recorded value outside chainrule's ops "
                      "(Tensor(t), cr.tensor(t))")
        elif (isinstance(t, Tensor) and type(t._data) is np.ndarray and by_library()
              and not user_held(data)):
            rec.note_made(t._data)  # computed by library code, maybe from the step's values
        return out

    return init


_SHAPE_FACTORIES = ("zeros", "ones", "zeros_like", "ones_like", "eye", "arange", "linspace")


def _shape_factory(rec: Recorder, orig: Any) -> Any:
    """cr.zeros, cr.ones_like, ...: values from shapes alone, constants of the tape (a cotangent
    of ones for cr.vjp, say)."""

    @functools.wraps(orig)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if not rec.quiet and isinstance(out, Tensor) and type(out._data) is np.ndarray:
            rec.constants[id(out._data)] = out._data
        return out

    return wrapper


def _holds_tensor(data: Any) -> bool:
    if isinstance(data, list | tuple):
        return any(_holds_tensor(d) for d in data)
    return isinstance(data, Tensor)


def _module_call(rec: Recorder, orig: Any) -> Any:
    @functools.wraps(orig)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec.module(self)
        return orig(self, *args, **kwargs)

    return wrapper


def _coefficients(rec: Recorder, orig: Any) -> Any:
    """cross_entropy's class coefficients: recomputed from the new targets on replay, and the
    replay abandoned (the step runs eagerly) if their normaliser changed."""

    @functools.wraps(orig)
    def wrapper(name: str, x: Any, caxis: int, target: Any, *rest: Any) -> Any:
        out = orig(name, x, caxis, target, *rest)
        if not rec.quiet and rec.failure is None:
            fargs = (name, _Shape(x.shape, x.dtype), caxis, target, *rest)
            with contextlib.suppress(NotCompilable):
                if any(isinstance(r, Tensor) for r in rest):
                    rec.fail("cross_entropy with a weight tensor (not recorded yet)")
                rec.coefficients(orig, fargs, 3, out)
        return out

    return wrapper


def _batchnorm(rec: Recorder, orig: Any) -> Any:
    """BatchNorm's forward: its count of batches is bumped by a recorded call (the statistics
    themselves go through batch_stats)."""

    @functools.wraps(orig)
    def wrapper(self: Any, x: Any) -> Any:
        if (not rec.quiet and rec.failure is None and self.training
                and self.track_running_stats and self.num_batches_tracked is not None):
            if self.momentum is None:
                _fail(rec, "BatchNorm with momentum=None (its factor is read into Python)")
            else:
                with contextlib.suppress(NotCompilable):
                    rec.numpy_call(_bump, (self.num_batches_tracked,), None)
        return orig(self, x)

    return wrapper


def _bump(count: np.ndarray) -> None:
    """num_batches_tracked += 1, in place."""
    np.add(count, 1, out=count)


def _numpy_unit(rec: Recorder, orig: Any) -> Any:
    """Library code computing with ndarrays outside the ops, recorded as one replayed call."""

    @functools.wraps(orig)
    def wrapper(*args: Any) -> Any:
        return rec.library_call(orig, args)

    return wrapper


def _constants(rec: Recorder, orig: Any) -> Any:
    """A library method returning arrays made from shapes alone (an RNN's zero initial state
    and missing biases): constants of the tape."""

    @functools.wraps(orig)
    def wrapper(*args: Any) -> Any:
        out = orig(*args)
        if not rec.quiet:
            for a in out if isinstance(out, list) else (out,):
                if type(a) is np.ndarray:
                    rec.constants[id(a)] = a
        return out

    return wrapper


# ----- random draws -----
class _RecordingRng:
    """The generator handed to the step while recording. Each draw is a tape entry that draws
    again from the same generator on replay, looked up then (``manual_seed`` replaces the global
    one), so a replay draws what an eager run would, in the same order."""

    def __init__(self, rec: Recorder, rng: np.random.Generator, resolve: Any) -> None:
        self._rec, self._rng, self._resolve = rec, rng, resolve

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rng, name)
        rec = self._rec
        if not callable(attr) or name.startswith("_") or name in ("spawn", "bit_generator"):
            if not rec.quiet:
                _fail(rec, f"the step read the generator's {name} (its state is not recorded)")
            return attr

        def draw(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            if rec.quiet or rec.failure is not None:
                return out
            if type(out) is not np.ndarray:
                _fail(rec, f"a random draw ({name}) read into Python")
                return out
            with contextlib.suppress(NotCompilable):
                rec.numpy_call(functools.partial(_draw, name, **kwargs), (None, *args), out,
                               {0: self._resolve})
                rec.drawn.add(id(out))
                rec.track(out)
            return out

        return draw


def _draw(name: str, rng: np.random.Generator, *args: Any, **kwargs: Any) -> Any:
    return getattr(rng, name)(*args, **kwargs)


def _default_rng(rec: Recorder, orig: Any) -> Any:
    @functools.wraps(orig)
    def wrapper() -> Any:
        rng = orig()
        return rng if rec.quiet else _RecordingRng(rec, rng, orig)

    return wrapper


def _as_rng(rec: Recorder, orig: Any, global_rng: Any) -> Any:
    @functools.wraps(orig)
    def wrapper(generator: Any = None) -> Any:
        if generator is None:
            return orig(generator)  # calls default_rng, wrapped above
        rng = orig(generator)
        if rec.quiet:
            return rng
        if isinstance(generator, np.random.Generator):
            return _RecordingRng(rec, rng, lambda: generator)
        return _RecordingRng(rec, rng, lambda: orig(generator))  # a cr.Generator: reseedable

    return wrapper


def _keep_mask(rec: Recorder, orig: Any) -> Any:
    """dropout's mask: one replayed call drawing from the same generator."""

    @functools.wraps(orig)
    def wrapper(gen: Any, shape: tuple, p: float, dtype: Any) -> Any:
        if rec.quiet or rec.failure is not None:
            return orig(gen, shape, p, dtype)
        resolve = gen._resolve if isinstance(gen, _RecordingRng) else lambda: gen
        rec.quiet += 1
        try:
            out = orig(gen, shape, p, dtype)
        finally:
            rec.quiet -= 1
        with contextlib.suppress(NotCompilable):
            rec.numpy_call(orig, (None, shape, p, dtype), out, {0: resolve})
        return out

    return wrapper


class _Shape:
    """What the class coefficients read of the input: its shape and dtype."""

    def __init__(self, shape: tuple, dtype: Any) -> None:
        self.shape = shape
        self.dtype = dtype
