"""Reference helpers for the op tests: comparisons, and PyTorch with NumPy's semantics.

torch is imported only inside the functions that need it, so this module (and op_specs, which
uses it) imports fine without torch; the tests that call these helpers skip via importorskip.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import asnumpy, cuda_device_count, is_device_array


# ----- devices -----
def cuda_available() -> bool:
    """Whether chainrule can place data on a CUDA device here (CuPy, or its test double under
    CHAINRULE_TEST_DEVICE=fake-cuda, with a device)."""
    try:
        cuda_device_count()
    except RuntimeError:
        return False
    return True


# for tests of what happens without a GPU (device="cuda" raising), and of host-only behaviour
# (an ndarray shared with a Tensor): skipped when the tests run with CUDA as the default device
needs_no_cuda = pytest.mark.skipif(cuda_available(), reason="a CUDA device is available here")
cpu_only = pytest.mark.skipif(cr.get_default_device().type != "cpu",
                              reason="about the CPU device (the tests' default device is CUDA)")


# ----- comparisons -----
def to_numpy(x: Any) -> np.ndarray:
    """A chainrule Tensor (on any device), torch tensor, ndarray or number as an ndarray."""
    if isinstance(x, cr.Tensor):
        return x.numpy(force=True)
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    if is_device_array(x):
        return asnumpy(x)
    return np.asarray(x)


def is_array(a: Any) -> bool:
    """Whether a is an array of the default device's kind (an ndarray on the CPU)."""
    if cr.get_default_device().type == "cpu":
        return type(a) is np.ndarray
    return is_device_array(a)


def assert_close(
    got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9, what: str = ""
) -> None:
    """Shapes equal and values close (NaNs never pass)."""
    g, w = to_numpy(got), to_numpy(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape}, expected {w.shape}"
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=what)


def vdot(a: Any, b: Any) -> float:
    """Sum of the elementwise product, in float64."""
    return float(np.sum(to_numpy(a).astype(np.float64) * to_numpy(b).astype(np.float64)))


# ----- torch values and derivatives -----
@contextlib.contextmanager
def _quiet_forward_ad() -> Any:
    """torch's first forward-mode call loads decompositions through the deprecated
    torch.jit.script; with filterwarnings = error that would fail the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*torch\.jit\.script.*", DeprecationWarning)
        yield


def to_torch(x: Any, requires_grad: bool = False) -> Any:
    """An ndarray (copied, so negative strides are fine) as a torch tensor of the same dtype."""
    import torch

    return torch.tensor(np.array(x), requires_grad=requires_grad)


def torch_index(idx: Any) -> Any:
    """A NumPy index with its arrays (integer or boolean) turned into torch tensors."""
    if isinstance(idx, tuple):
        return tuple(torch_index(i) for i in idx)
    if isinstance(idx, np.ndarray | list):
        return to_torch(idx)
    return idx


def torch_getitem(x: Any, idx: tuple) -> Any:
    """x[idx] for a basic index, negative slice steps included (torch has none: flip)."""
    dim, out_idx = 0, []
    for i in idx:
        if isinstance(i, slice) and i.step is not None and i.step < 0:
            x = x.flip(dim)
            n = x.shape[dim]
            out_idx.append(slice(n - 1 - i.start if i.start is not None else None,
                                 n - 1 - i.stop if i.stop is not None else None, -i.step))
        else:
            out_idx.append(i)
        dim += i is not None and i is not Ellipsis  # basic cases: Ellipsis only last or alone
    return x[tuple(out_idx)]


def torch_scalarised(fn: Callable[..., Any], w: np.ndarray) -> Callable[..., Any]:
    """xs -> sum(w * fn(xs)^2), the scalar the tests differentiate (as op_specs.scalarised)."""
    tw = to_torch(w)

    def scalar(*xs: Any) -> Any:
        y = fn(*xs)
        return (tw * y * y).sum()

    return scalar


def torch_value_and_grad(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """fn(*arrays) (a scalar) and its gradient with respect to every array, by torch.autograd."""
    import torch

    xs = [to_torch(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    grads = torch.autograd.grad(y, xs, allow_unused=True)
    return to_numpy(y), [np.zeros_like(a) if g is None else to_numpy(g)
                         for g, a in zip(grads, arrays, strict=True)]


def torch_jvp(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray], tangents: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """fn(*arrays) and its directional derivative along tangents, by torch.func.jvp."""
    import torch

    with _quiet_forward_ad():
        out, d = torch.func.jvp(fn, tuple(to_torch(a) for a in arrays),
                                tuple(to_torch(t) for t in tangents))
    return to_numpy(out), to_numpy(d)


def torch_hessian(fn: Callable[..., Any], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The Hessian of scalar fn with respect to its first argument (the others held fixed)."""
    import torch

    x, *rest = (to_torch(a) for a in arrays)
    with _quiet_forward_ad():
        return to_numpy(torch.func.hessian(lambda x: fn(x, *rest))(x))


# ----- torch functions with NumPy's semantics (axis=None, tuples of axes, np.dot, np.pad) -----
def dims(x: Any, axis: Any) -> tuple[int, ...]:
    """NumPy's axis argument as a tuple of dims (all of them for None)."""
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def torch_sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    return torch.sum(x, dim=dims(x, axis), keepdim=keepdims) if x.ndim else x


def torch_mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    return torch.mean(x, dim=dims(x, axis), keepdim=keepdims) if x.ndim else x


def torch_var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    import torch

    return torch.var(x, dim=dims(x, axis), correction=ddof, keepdim=keepdims)


def torch_std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    import torch

    return torch.std(x, dim=dims(x, axis), correction=ddof, keepdim=keepdims)


def torch_max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    return torch.amax(x, dim=dims(x, axis), keepdim=keepdims) if x.ndim else x


def torch_min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    return torch.amin(x, dim=dims(x, axis), keepdim=keepdims) if x.ndim else x


def torch_logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    return torch.logsumexp(x, dim=dims(x, axis), keepdim=keepdims) if x.ndim else x


def torch_prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    import torch

    ds = dims(x, axis)
    for d in ds:
        x = torch.prod(x, dim=d, keepdim=True)
    return x if keepdims or not ds else x.squeeze(ds)


def torch_dot(a: Any, b: Any) -> Any:
    """np.dot: sum over a's last axis and b's second-to-last (its only one when 1-D)."""
    import torch

    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return torch.tensordot(a, b, dims=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def torch_pad(x: Any, pad_width: Any, constant_values: float = 0.0) -> Any:
    """np.pad in constant mode (pad_width: int, one pair, or one pair per axis)."""
    import torch

    pw = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    flat = [int(v) for pair in pw[::-1] for v in pair]
    return torch.nn.functional.pad(x, flat, value=constant_values)


def torch_split(x: Any, sections: Any, axis: int = 0) -> Any:
    """np.split then concatenate the pieces in reverse order (as op_specs' split row)."""
    import torch

    n = x.shape[axis]
    bounds = (list(range(0, n + 1, n // sections)) if isinstance(sections, int)
              else [0, *sections, n])
    pieces = [x.narrow(axis, a, b - a) for a, b in itertools.pairwise(bounds)]
    return torch.cat(pieces[::-1], dim=axis)


def torch_take(x: Any, indices: Any, axis: int | None = None) -> Any:
    """np.take along one axis, or of the flattened x without one (torch.take)."""
    if axis is None:
        return x.reshape(-1)[to_torch(indices)]
    return x[(slice(None),) * (axis % x.ndim) + (to_torch(indices),)]
