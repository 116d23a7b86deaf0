"""Finite-difference oracles: numerical_jacobian and gradcheck (both AD modes against it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.backend import asnumpy, device_index, is_device_array, to_device
from chainrule.device import as_device
from chainrule.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by gradcheck when an AD derivative disagrees with finite differences."""


def _inputs64(inputs: Sequence[Any]) -> list[Any]:
    """The inputs as host arrays, floats in float64 (finite differences are taken there)."""
    out: list[Any] = []
    for x in inputs:
        if x is None:  # an optional argument left out (PyTorch's gradcheck passes it through)
            out.append(None)
            continue
        arr = np.asarray(asnumpy(x._data if isinstance(x, Tensor) else x))
        out.append(arr.astype(np.float64) if arr.dtype.kind == "f" else arr)
    return out


def _placement(inputs: Sequence[Any]) -> list[int | None]:
    """Where f sees each input: a Tensor's own device, an array's the default one (a CUDA
    ordinal, or None for the host)."""
    default = as_device(None).index
    return [(device_index(x._data) if is_device_array(x._data) else None)
            if isinstance(x, Tensor) else default for x in inputs]


def _tensors(arrays: Sequence[Any], where: Sequence[int | None]) -> list[Any]:
    return [None if a is None else Tensor._make(to_device(a, w), False, None)
            for a, w in zip(arrays, where, strict=True)]


def _call(f: Callable[..., Any], arrays: Sequence[np.ndarray],
          where: Sequence[int | None]) -> np.ndarray:
    out = f(*_tensors(arrays, where))
    return np.asarray(asnumpy(out._data if isinstance(out, Tensor) else out), dtype=np.float64)


def numerical_jacobian(
    f: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference Jacobians of f at inputs, in float64: one (out.shape + in.shape) each."""
    if isinstance(inputs, Tensor | np.ndarray):
        inputs = (inputs,)
    xs, where = _inputs64(inputs), _placement(inputs)
    out0 = _call(f, xs, where)
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
            jac[:, k] = ((_call(f, args_p, where) - _call(f, args_m, where)) / (2 * eps)).ravel()
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
    xs, where = _inputs64(inputs), _placement(inputs)
    numeric = numerical_jacobian(f, inputs, eps)
    for i, x in enumerate(xs):
        if numeric[i] is None:
            continue
        for mode in modes:
            args = _tensors(xs, where)
            got = np.asarray(asnumpy(jacobian(f, argnums=i, mode=mode)(*args)._data),
                             dtype=np.float64)
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
