"""Optimizer: parameter groups, per-parameter state, the step loop and PyTorch-layout state dicts.

A rule (SGD, Adam, ...) only writes ``update(p, g, state, h)``: it reads the raw gradient ndarray
``g``, updates the parameter's ndarray ``p`` and its ``state`` buffers in place, and reads the
group's hyperparameters as attributes of ``h``. The loop, the state layout and (de)serialisation
live here, once.

Arithmetic keeps the parameter's dtype: hyperparameters reach the rules as Python scalars (weak
under NumPy's promotion rules), and every temporary of a parameter's size is a view into scratch
buffers owned by the optimizer (``Optimizer.scratch``), so a step on large parameters allocates
nothing after the first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.inplace import mark_written
from chainrule.autodiff.modes import enable_grad
from chainrule.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_hyperparam(name: str, value: Any, valid: bool) -> None:
    """Raise ValueError naming the hyperparameter when valid is False, in PyTorch's words."""
    if not valid:
        label = ("learning rate" if name == "lr" else name if name.startswith("beta parameter")
                 else f"{name} value")
        raise ValueError(f"Invalid {label}: {value}")


def implementation_flags(name: str, **flags: Any) -> dict[str, Any]:
    """PyTorch's implementation switches (foreach, fused, capturable, differentiable), as given.

    They are kept in the groups, as PyTorch keeps them, so state dicts load both ways; they change
    nothing here (NumPy has one implementation and one device), except differentiable=True, which
    asks for a step recorded by autograd and is refused rather than silently not done.
    """
    if flags.get("differentiable"):
        raise NotImplementedError(f"{name}: differentiable=True (autograd through the step) is "
                                  "not supported")
    if flags.get("fused") and flags.get("foreach"):
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    return flags


class Hyperparams:
    """A parameter group's hyperparameters as attributes (``h.lr``), numbers as Python scalars."""

    def __init__(self, group: dict[str, Any]) -> None:
        for key, value in group.items():
            if key != "params":
                setattr(self, key, _plain(value))


class Optimizer:
    """Base class: holds ``param_groups`` and ``state``; subclasses write ``update``.

    Args:
        params: an iterable of Tensors, or of dicts each holding ``params`` and the
            hyperparameters that group overrides.
        defaults: the hyperparameters of groups that do not set them.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[tuple[np.dtype, int], np.ndarray] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                "got a Tensor"
            )
        groups = _ordered(params, type(self).__name__)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``params``); missing hyperparameters default."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise KeyError("add_param_group: the group has no 'params'")
        params = [params] if isinstance(params, Tensor) else _ordered(params, "add_param_group")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("add_param_group: can only optimize Tensors, "
                                f"got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("add_param_group: can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("add_param_group: the group holds the same parameter twice")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("add_param_group: some parameters appear in more than one group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    # ----- the loop -----
    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], h: Hyperparams) -> None:
        """Apply the rule to one parameter: update ``p`` and ``state`` in place from gradient ``g``.

        ``g`` must not be written (it is the user's gradient); temporaries come from
        ``self.scratch(p, k)`` and must not be kept past the call (they are shared).
        """
        raise NotImplementedError(f"{type(self).__name__} has no update()")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure() if given (as PyTorch)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            h = Hyperparams(group)
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad._data if isinstance(grad, Tensor) else B.asarray(grad)
                data = p._data
                if g.shape != data.shape:
                    raise ValueError(f"{type(self).__name__}.step: gradient of shape {g.shape} "
                                     f"for a parameter of shape {data.shape}")
                if g.dtype != data.dtype:
                    g = g.astype(data.dtype)
                self.update(writeable_data(p), g, self.state[p], h)
                mark_written(p._data)  # a graph still holding the old value must not reuse it
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None or set_to_none:
                    p.grad = None
                elif (isinstance(grad, Tensor) and grad.is_leaf and not grad.requires_grad
                      and grad._data.base is None and grad._data.flags.writeable):
                    grad._data.fill(0)
                else:  # a view or a graph node: zeroing it in place could write elsewhere
                    p.grad = Tensor._make(np.zeros_like(p._data), False, None)

    # ----- helpers for the rules -----
    def scratch(self, p: np.ndarray, k: int) -> np.ndarray:
        """Temporary number k (0, 1, ...) of p's shape, dtype and memory layout.

        Views into one flat buffer per (dtype, k), grown to the largest parameter: the update of a
        large parameter then allocates nothing, and the memory kept is that of a few parameters.
        """
        key = (p.dtype, k) if type(p) is np.ndarray else (p.dtype, k, str(p.device))
        flat = self._scratch.get(key)
        if flat is None or flat.size < p.size:
            flat = self._scratch[key] = B.empty(p.size, p.dtype, p)
        buf = flat[: p.size]
        if p.flags.c_contiguous:
            return buf.reshape(p.shape)
        if p.flags.f_contiguous:
            return buf.reshape(p.shape[::-1]).T
        return np.empty_like(p)

    def grad_for_rule(self, p: np.ndarray, g: np.ndarray, h: Hyperparams,
                      weight_decay: float) -> np.ndarray:
        """g, negated when maximizing, plus weight_decay * p (PyTorch's coupled L2 penalty).

        Returns g itself when neither applies, else scratch 0 (which the rule may then overwrite).
        """
        maximize = getattr(h, "maximize", False)
        if not weight_decay and not maximize:
            return g
        out = self.scratch(p, 0)
        if weight_decay:
            np.multiply(p, weight_decay, out=out)
            if maximize:
                np.subtract(out, g, out=out)
            else:
                np.add(g, out, out=out)
        else:
            np.negative(g, out=out)
        return out

    def zeros_state(self, p: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A state buffer like p (same dtype and layout), filled with fill."""
        buf = np.empty_like(p)
        buf.fill(fill)
        return buf

    # ----- state dicts -----
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: {"state": {index: {name: value}}, "param_groups": [{..., "params"}]}.

        Parameters are numbered in group order. Arrays are copies, so the dict is a snapshot
        that later steps do not change.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index[id(p)]] = {k: _snapshot(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict`` (ours or PyTorch's).

        Groups are matched in order and must hold as many parameters as when saved. Floating
        state is copied into the dtype and layout of its parameter; ``step`` stays a number.
        """
        saved_groups = state_dict["param_groups"]
        name = type(self).__name__
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = [int(j) for j in saved["params"]]
            if len(ids) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} holds {len(ids)} parameters "
                                 f"in the state dict, {len(group['params'])} in the optimizer")
            by_index.update(zip(ids, group["params"]))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is not None:
                state[p] = {k: self._load_state_value(k, v, p._data) for k, v in values.items()}
        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            new = {k: _plain(v, group.get(k)) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            groups.append(new)
        self.state = state
        self.param_groups = groups

    def _load_state_value(self, key: str, value: Any, p: np.ndarray) -> Any:
        """One loaded state entry of parameter p (rules with non-elementwise state override it)."""
        return _state_value(key, value, p, type(self).__name__)


def writeable_data(p: Tensor) -> np.ndarray:
    """p's ndarray, replaced first by a writeable copy if it is read-only (e.g. loaded from a
    read-only buffer), for the rules to update in place."""
    if not p._data.flags.writeable:
        p._data = p._data.copy()
    return p._data


def _ordered(params: Iterable[Any], where: str) -> list[Any]:
    """params as a list; a set is refused, as its order changes between runs."""
    if isinstance(params, set | frozenset):
        raise TypeError(f"{where}: params must be an ordered collection, not a set (the order "
                        "of a set changes between runs)")
    return list(params)


def _snapshot(v: Any) -> Any:
    """A state value with its arrays copied (also inside lists), so later steps do not change it."""
    if B.is_array(v):
        return v.copy(order="K")
    if isinstance(v, list):
        return [_snapshot(x) for x in v]
    return v


def _to_numpy(v: Any) -> Any:
    """A chainrule or torch tensor as an ndarray; anything else unchanged."""
    if isinstance(v, Tensor):
        return v._data
    if type(v).__module__.startswith("torch") and hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return v


def _plain(v: Any, like: Any = None) -> Any:
    """NumPy scalars and 0-d arrays as Python numbers, also inside tuples (betas); a list or
    array as a tuple where like is a tuple (a state dict that went through JSON)."""
    v = _to_numpy(v)
    if isinstance(v, np.generic) or (B.is_array(v) and v.ndim == 0):
        return v.item()
    if isinstance(v, tuple) or (isinstance(like, tuple) and (isinstance(v, list)
                                                             or B.is_array(v))):
        return tuple(_plain(x) for x in v)
    return v


def _state_value(key: str, v: Any, p: np.ndarray, name: str) -> Any:
    """One loaded state entry: step as a float, floating arrays in p's dtype and layout, copied."""
    v = _to_numpy(v)
    if key == "step":
        return float(v)
    if not B.is_array(v):
        return _plain(v)
    if v.dtype.kind != "f":
        return B.move_like(v, p).copy()
    if v.shape != p.shape:
        raise ValueError(f"{name}.load_state_dict: state {key!r} of shape {v.shape} for a "
                         f"parameter of shape {p.shape}")
    out = np.empty_like(p)
    out[...] = B.move_like(v, p)
    return out
