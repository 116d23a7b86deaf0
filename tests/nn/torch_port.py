"""Helpers for comparing chainrule modules with PyTorch's: port weights, run both, compare.

torch is imported lazily; tests that use these helpers call pytest.importorskip("torch") first.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import chainrule as cr

# (rtol, atol) per dtype: float64 to ~1e-10, float32 to ~1e-5
TOL = {np.float64: (1e-10, 1e-12), np.float32: (1e-5, 1e-6)}
DTYPES = [np.float64, np.float32]


def torch_dtype(dtype: Any) -> Any:
    import torch

    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def port(module: cr.nn.Module, tmodule: Any, dtype: Any) -> cr.nn.Module:
    """Cast module to dtype and load tmodule's state dict (cast to dtype) into it."""
    tmodule.to(torch_dtype(dtype))
    module.astype(dtype)
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in tmodule.state_dict().items()})
    return module


def close(got: Any, want: Any, dtype: Any, what: str = "", scale: float = 1.0) -> None:
    """got (chainrule) and want (torch or ndarray) of the same shape and dtype, values close."""
    g = got.cpu().numpy() if isinstance(got, cr.Tensor) else np.asarray(got)
    w = want.detach().cpu().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape}, expected {w.shape}"
    assert g.dtype == np.dtype(dtype), f"{what}: dtype {g.dtype}, expected {np.dtype(dtype)}"
    rtol, atol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(g, w, rtol=rtol * scale, atol=atol * scale, err_msg=what)


def compare_module(module: cr.nn.Module, tmodule: Any, inputs: list[np.ndarray], dtype: Any,
                   rng: np.random.Generator, grad_inputs: tuple[int, ...] = (0,),
                   call: Callable[..., Any] | None = None, scale: float = 1.0) -> None:
    """Forward both on inputs, backward a random cotangent; compare output and every gradient.

    inputs are cast to dtype when floating; grad_inputs name the inputs to differentiate.
    """
    import torch

    arrs = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
    xs = [cr.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(arrs)]
    txs = [torch.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(arrs)]
    call = call or (lambda m, *a: m(*a))
    out = call(module, *xs)
    tout = call(tmodule, *txs)
    close(out, tout, dtype, "output", scale)
    w = rng.standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for i in grad_inputs:
        close(xs[i].grad, txs[i].grad, dtype, f"gradient of input {i}", scale)
    tparams = dict(tmodule.named_parameters())
    names = [n for n, _ in module.named_parameters()]
    assert names == list(tparams), (names, list(tparams))
    for name, p in module.named_parameters():
        if tparams[name].grad is None:
            assert p.grad is None, name
            continue
        close(p.grad, tparams[name].grad, dtype, f"gradient of {name}", scale)


@contextlib.contextmanager
def quiet_forward_ad() -> Iterator[None]:
    """torch.func's first forward-mode call loads decompositions through the deprecated
    torch.jit.script; with filterwarnings = error that warning would fail the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*torch\.jit\.script.*", DeprecationWarning)
        yield
