"""L-BFGS (Nocedal; Liu & Nocedal) with an optional strong Wolfe line search, as PyTorch's.

The algorithm, its stopping rules, its state and the points it evaluates are PyTorch's
(``torch/optim/lbfgs.py``, after minFunc), on one flat ndarray holding every parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.modes import enable_grad
from chainrule.optim.line_search import strong_wolfe
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _plain,
    _to_numpy,
    check_hyperparam,
    writeable_data,
)
from chainrule.tensor import Tensor

_ONE_GROUP = "LBFGS doesn't support per-parameter options (parameter groups)"


class LBFGS(Optimizer):
    """Quasi-Newton steps d = -H g, H from the last history_size pairs (s = t d, y = Δg).

    Each ``step(closure)`` runs up to max_iter iterations (max_eval evaluations of the closure),
    with step length lr (the first iteration ever: min(1, 1/|g|₁) * lr) or the strong Wolfe
    line search. The state, kept under the first parameter as PyTorch does, holds
    ``func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss`` and
    ``al``. Only one parameter group is supported.

    Args:
        params: the parameters (one group).
        lr: the step length (default 1).
        max_iter: the most iterations per step.
        max_eval: the most closure evaluations per step (default max_iter * 5 // 4).
        tolerance_grad: stop when max |g| is at most this.
        tolerance_change: stop when the loss or the parameters change less than this.
        history_size: the number of (s, y) pairs kept.
        line_search_fn: None (fixed step lr) or ``"strong_wolfe"``.
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_hyperparam("lr", lr, lr >= 0.0)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                             f"got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError(_ONE_GROUP)
        self._params: list[Tensor] = self.param_groups[0]["params"]
        self._dtype = np.result_type(*(p._data.dtype for p in self._params))

    # ----- the parameters as one flat vector -----
    def _gather_flat_grad(self) -> np.ndarray:
        """Every gradient flattened (in C order) and concatenated; zeros for a missing one."""
        views = []
        for p in self._params:
            grad = p.grad
            if grad is None:
                views.append(B.zeros(p._data.size, self._dtype, p._data))
            else:
                views.append(B.asarray(_to_numpy(grad)).ravel())
        return np.concatenate(views).astype(self._dtype, copy=False)

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        """p += step_size * update, each parameter from its slice of the flat update."""
        step_size = float(step_size)  # a weak scalar: the update keeps the parameters' dtype
        offset = 0
        for p in self._params:
            data = writeable_data(p)
            n = data.size
            data += step_size * update[offset:offset + n].reshape(data.shape)
            offset += n

    def _clone_param(self) -> list[np.ndarray]:
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data: list[np.ndarray]) -> None:
        for p, x in zip(self._params, params_data, strict=True):
            np.copyto(writeable_data(p), x)

    def _evaluate(self, closure: Callable[[], Any]) -> Any:
        with enable_grad():
            return closure()

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[np.ndarray], t: Any,
                              d: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and flat gradient at x + t*d; the parameters are then put back at x."""
        self._add_grad(t, d)
        loss = _as_float(self._evaluate(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ----- the algorithm -----
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; returns the closure's first loss (as PyTorch).

        closure: zeroes the gradients, computes the loss, calls ``backward`` and returns it.
        """
        if len(self.param_groups) != 1:
            raise ValueError(_ONE_GROUP)
        group = self.param_groups[0]
        lr = _plain(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = _as_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction: steepest descent first, then the two-loop recursion
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * float(t)
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)  # scale of the initial inverse Hessian
                d = self._two_loop(state, flat_grad, old_dirs, old_stps, ro, h_diag,
                                   history_size)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # the step length
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_param()

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> tuple[float, Any]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # re-evaluated only when another iteration follows (PyTorch's choice: in a
                    # stochastic setting the last evaluation would be of no use)
                    loss = _as_float(self._evaluate(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # stopping rules
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * float(t)).max() <= tolerance_change:  # lack of progress
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _two_loop(state: dict[str, Any], flat_grad: np.ndarray, old_dirs: list[np.ndarray],
                  old_stps: list[np.ndarray], ro: list[Any], h_diag: Any,
                  history_size: int) -> np.ndarray:
        """-H g by the two-loop recursion over the kept pairs (al kept in state, as PyTorch)."""
        num_old = len(old_dirs)
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = -flat_grad
        for i in range(num_old - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q -= float(al[i]) * old_dirs[i]
        r = q * h_diag
        for i in range(num_old):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += float(al[i] - be_i) * old_stps[i]
        return r

    # ----- state dicts -----
    def _load_state_value(self, key: str, value: Any, p: np.ndarray) -> Any:
        """Arrays and 0-d tensors (also inside lists) in p's dtype, copied; numbers as they are."""
        v = _to_numpy(value)
        if isinstance(v, list | tuple):
            return [self._load_state_value(key, x, p) for x in v]
        if isinstance(v, np.generic):
            v = np.asarray(v)
        if B.is_array(v) and v.dtype.kind == "f":
            v = B.move_like(v, p).astype(p.dtype)
            return v[()] if v.ndim == 0 else v.copy()
        if B.is_array(v):
            return v.item() if v.ndim == 0 else B.move_like(v, p).copy()
        return _plain(v)


def _as_float(loss: Any) -> float:
    """The closure's loss (a Tensor, a torch tensor or a number) as a Python float."""
    v = _to_numpy(loss)
    return float(v.item() if isinstance(v, np.generic) or B.is_array(v) else v)
