"""A small problem that drives chainrule's and PyTorch's optimizers through the same gradients.

Five parameters (a matrix, a bias, a Fortran-ordered matrix, a vector and a 0-d scalar) in two
groups; the gradients come from one NumPy function of the current values, so any difference
between the trajectories is the optimizers' own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule.optim as optim
from chainrule.nn.module import Parameter
from chainrule.tensor import Tensor

NAMES = ("W", "b", "M", "u", "s")
GROUPS = (("W", "b", "M"), ("u", "s"))

_data = np.random.default_rng(1)
X, Y = _data.normal(size=(8, 4)), _data.normal(size=(8, 3))
B, Z = _data.normal(size=(6, 5)), _data.normal(size=(6,))


def initial(dtype: Any) -> dict[str, np.ndarray]:
    """The starting values (M Fortran-ordered, s 0-d)."""
    r = np.random.default_rng(2)
    return {
        "W": r.normal(size=(3, 4)).astype(dtype),
        "b": r.normal(size=(3,)).astype(dtype),
        "M": np.asfortranarray(r.normal(size=(4, 2)).astype(dtype)),
        "u": r.normal(size=(5,)).astype(dtype),
        "s": np.asarray(r.normal(), dtype=dtype),
    }


def gradients(v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradient of 0.5/n|XWᵀ+b-Y|² + 0.5|Bu-z|² + 0.5(s·ΣM-1)² + 0.25|M|⁴, in the values' dtype."""
    dt = v["W"].dtype
    x, y, bm, z = X.astype(dt), Y.astype(dt), B.astype(dt), Z.astype(dt)
    r = (x @ v["W"].T + v["b"] - y) / len(x)
    r2 = bm @ v["u"] - z
    m, s = v["M"], v["s"]
    e = s * m.sum() - 1
    return {
        "W": r.T @ x,
        "b": r.sum(0),
        "M": np.asfortranarray(e * s + (m * m).sum() * m),
        "u": bm.T @ r2,
        "s": np.asarray(e * m.sum(), dtype=dt),
    }


def chainrule_run(cls: str, defaults: dict[str, Any], group_kwargs: tuple[dict, dict],
                  dtype: Any, steps: int,
                  hook: Callable[[int, Any], None] | None = None) -> list[dict[str, np.ndarray]]:
    """Values after each step with chainrule's optimizer (hook(i, opt) runs after step i)."""
    params = chainrule_params(initial(dtype))
    opt = make_chainrule(cls, params, defaults, group_kwargs)
    return [*run_steps(opt, params, steps, set_chainrule_grads, hook)]


def chainrule_params(values: dict[str, np.ndarray]) -> dict[str, Parameter]:
    """Parameters holding copies of values (layouts kept)."""
    return {k: Parameter(a.copy(order="K")) for k, a in values.items()}


def make_chainrule(cls: str, params: dict[str, Parameter], defaults: dict[str, Any],
                   group_kwargs: tuple[dict, dict]) -> Any:
    """chainrule optimizer over params in the two groups."""
    groups = [{"params": [params[n] for n in names], **kw}
              for names, kw in zip(GROUPS, group_kwargs, strict=True)]
    return getattr(optim, cls)(groups, **defaults)


def torch_run(cls: str, defaults: dict[str, Any], group_kwargs: tuple[dict, dict],
              dtype: Any, steps: int,
              hook: Callable[[int, Any], None] | None = None) -> list[dict[str, np.ndarray]]:
    """Values after each step with PyTorch's optimizer."""
    import torch

    params = {k: torch.from_numpy(a.copy(order="K")).requires_grad_()
              for k, a in initial(dtype).items()}
    groups = [{"params": [params[n] for n in names], **kw}
              for names, kw in zip(GROUPS, group_kwargs, strict=True)]
    opt = getattr(torch.optim, cls)(groups, **defaults)
    return [*run_steps(opt, params, steps, set_torch_grads, hook)]


def run_steps(opt: Any, params: dict[str, Any], steps: int, set_grads: Callable | None = None,
              hook: Callable | None = None) -> Any:
    """Yield the values after each of steps steps (gradients by set_grads, chainrule's default)."""
    set_grads = set_grads or set_chainrule_grads
    for i in range(steps):
        set_grads(params)
        opt.step()
        if hook is not None:
            hook(i, opt)
        yield {k: _numpy(p).copy(order="K") for k, p in params.items()}


def _numpy(p: Any) -> np.ndarray:
    return p.cpu().numpy() if isinstance(p, Tensor) else p.detach().cpu().numpy()


def set_chainrule_grads(params: dict[str, Parameter]) -> None:
    """Set each chainrule parameter's .grad from gradients()."""
    for k, g in gradients({k: p.cpu().numpy() for k, p in params.items()}).items():
        params[k].grad = Tensor(g)


def set_torch_grads(params: dict[str, Any]) -> None:
    """Set each torch parameter's .grad from gradients()."""
    import torch

    for k, g in gradients({k: _numpy(p) for k, p in params.items()}).items():
        params[k].grad = torch.from_numpy(g)


TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-5}}


def assert_same_trajectory(got: list[dict], want: list[dict], dtype: Any) -> None:
    """Every parameter equal at every step (to the dtype's tolerance), dtype kept."""
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for k in NAMES:
            assert g[k].dtype == dtype, f"{k} became {g[k].dtype}"
            np.testing.assert_allclose(g[k], w[k], **TOLERANCE[dtype], err_msg=f"{k}, step {i}")
