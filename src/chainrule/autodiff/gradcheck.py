"""Finite-difference oracles: numerical_jacobian and gradcheck (both AD modes against it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by gradcheck when an AD derivative disagrees with finite differences."""


def _inputs64(inputs: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for x in inputs:
        if x is None:  # an optional argument left out (PyTorch's gradcheck passes it through)
            out.append(None)
            continue
        arr = np.asarray(x._data if isinstance(x, Tensor) else x)
        out.append(arr.astype(np.float64) if arr.dtype.kind == "f" else arr)
    return out


def _call(f: Callable[..., Any], arrays: Sequence[np.ndarray]) -> np.ndarray:
    out = f(*[None if a is None else Tensor._make(a, False, None) for a in arrays])
    return np.asarray(out._data if isinstance(out, Tensor) else out, dtype=np.float64)


def numerical_jacobian(
    f: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference Jacobians of f at inputs, in float64: one (out.shape + in.shape) each."""
    if isinstance(inputs, Tensor | np.ndarray):
        inputs = (inputs,)
    xs = _inputs64(inputs)
    out0 = _call(f, xs)
    jacs = []
    for i, x in enumerate(xs):
        if x is None or x.dtype.kind != "f":
            jacs.append(None)
            continue
        jac = np.zeros((out0.size, x.size))
        for k in range(x.size):
            xp, xm = x.copy(), x.copy()
            xp.flat[k] += eps
            xm.flat[k] -= eps
            args_p = [*xs[:i], xp, *xs[i + 1:]]
            args_m = [*xs[:i], xm, *xs[i + 1:]]
            jac[:, k] = ((_call(f, args_p) - _call(f, args_m)) / (2 * eps)).ravel()
        jacs.append(jac.reshape(out0.shape + x.shape))
    return jacs


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    modes: Sequence[str] = ("reverse", "forward"),
) -> bool:
    """Check reverse mode and forward mode of f against central differences, in float64.

    ``modes`` narrows the check (e.g. to ``("reverse",)`` for an op with no forward rule).

    Returns True, or raises GradcheckError naming the input, the worst element and both values.
    """
    from chainrule.autodiff.transforms import jacobian

    if isinstance(inputs, Tensor | np.ndarray):
        inputs = (inputs,)
    xs = _inputs64(inputs)
    numeric = numerical_jacobian(f, xs, eps)
    for i, x in enumerate(xs):
        if numeric[i] is None:
            continue
        for mode in modes:
            args = [None if a is None else Tensor._make(a, False, None) for a in xs]
            got = np.asarray(jacobian(f, argnums=i, mode=mode)(*args)._data, dtype=np.float64)
            want = numeric[i]
            if got.shape != want.shape:
                raise GradcheckError(
                    f"gradcheck: input {i}: {mode}-mode Jacobian has shape {got.shape}, "
                    f"finite differences give {want.shape}"
                )
            err = np.abs(got - want) - (atol + rtol * np.abs(want))
            if (want.size and (err > 0).any()) or not np.isfinite(got).all():
                flat = np.where(np.isfinite(got), err, np.inf).ravel()
                k = int(np.argmax(flat))
                idx = np.unravel_index(k, want.shape)
                out_idx, in_idx = idx[: want.ndim - x.ndim], idx[want.ndim - x.ndim:]
                raise GradcheckError(
                    f"gradcheck: input {i}, element {tuple(int(v) for v in in_idx)} "
                    f"(output element {tuple(int(v) for v in out_idx)}): {mode} mode gives "
                    f"{got[idx]!r}, finite differences give {want[idx]!r}"
                )
    return True
