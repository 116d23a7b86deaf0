"""Echo-state network: a fixed random recurrent reservoir of leaky tanh units, a trained readout.

Only the readout learns, so the vanishing and exploding gradients of backpropagation through
time never arise: the reservoir is scaled to a spectral radius below one (the echo-state
property: the state forgets its initial condition), and the readout is a linear regression on
the states, solved in closed form (``fit_readout``, ridge regression) or trained by SGD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import creation, ops
from chainrule.autodiff.modes import no_grad
from chainrule.dtypes import get_default_dtype
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["EchoState"]


class EchoState(Module):
    """h_t = (1 - a) h_{t-1} + a tanh(W_in x_t + W h_{t-1} + b), y_t = W_out h_t + b_out.

    W (reservoir_size, reservoir_size) is sparse random, rescaled so that its largest
    |eigenvalue| is ``spectral_radius``; W_in ~ U(-input_scaling, input_scaling) and
    b ~ U(-bias_scaling, bias_scaling).  W_in, W and b are buffers (saved, never trained);
    the readout ``readout`` (an ``nn.Linear``) holds the only parameters.  ``leak`` = a is the
    leaky units' rate (1: plain tanh units).  ``seed`` fixes the reservoir (else it comes from
    the global generator); the readout is drawn from the global generator as any layer is.
    Input (T, B, input_size), (B, T, input_size) with batch_first, or (T, input_size); the
    output is shaped likewise with output_size features.
    """

    def __init__(self, input_size: int, reservoir_size: int, output_size: int,
                 spectral_radius: float = 0.9, leak: float = 1.0, input_scaling: float = 1.0,
                 sparsity: float = 0.9, bias_scaling: float = 0.0, seed: int | None = None,
                 batch_first: bool = False, dtype: Any = None) -> None:
        super().__init__()
        if not 0.0 < leak <= 1.0:
            raise ValueError(f"EchoState: leak must be in (0, 1], got {leak}")
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"EchoState: sparsity must be in [0, 1), got {sparsity}")
        self.input_size = input_size
        self.reservoir_size = reservoir_size
        self.output_size = output_size
        self.spectral_radius = spectral_radius
        self.leak = leak
        self.batch_first = batch_first
        dt = get_default_dtype() if dtype is None else dtype
        rng = creation.default_rng() if seed is None else np.random.default_rng(seed)
        w_in = rng.uniform(-input_scaling, input_scaling, (reservoir_size, input_size))
        w = rng.uniform(-1.0, 1.0, (reservoir_size, reservoir_size))
        w *= rng.random((reservoir_size, reservoir_size)) >= sparsity
        radius = np.abs(np.linalg.eigvals(w)).max() if reservoir_size else 0.0
        if radius > 0:
            w *= spectral_radius / radius
        b = rng.uniform(-bias_scaling, bias_scaling, reservoir_size)
        self.register_buffer("weight_in", w_in.astype(dt))
        self.register_buffer("weight_res", w.astype(dt))
        self.register_buffer("bias_res", b.astype(dt))
        self.readout = Linear(reservoir_size, output_size, dtype=dt)

    def states(self, input: Any, h0: Any = None) -> Tensor:
        """The reservoir states h_1..h_T, shaped as the input with reservoir_size features."""
        x = input if isinstance(input, Tensor) else Tensor(B.asarray(input))
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"EchoState: input of shape {x.shape} does not match input_size="
                             f"{self.input_size} (expected (seq_len, [batch,] "
                             f"{self.input_size}))")
        batched = x.ndim == 3
        if batched and self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        w_t = ops.transpose(self.weight_res, None)
        pre = x @ ops.transpose(self.weight_in, None) + self.bias_res  # all steps at once
        shape = pre.shape[1:]
        if h0 is None:
            h = Tensor(B.zeros(shape, pre.dtype, pre._data))
        else:
            h = h0 if isinstance(h0, Tensor) else Tensor(B.asarray(h0))
            if h.shape != shape:
                raise ValueError(f"EchoState: h0 of shape {h.shape} does not match the input of "
                                 f"shape {x.shape} (expected {shape})")
        a = self.leak
        hs = []
        for t in range(pre.shape[0]):
            u = ops.tanh(pre[t] + h @ w_t)
            h = u if a == 1.0 else h * (1.0 - a) + u * a
            hs.append(h)
        out = ops.stack(hs)
        return ops.swapaxes(out, 0, 1) if batched and self.batch_first else out

    def forward(self, input: Any, h0: Any = None) -> Tensor:
        return self.readout(self.states(input, h0))

    def fit_readout(self, input: Any, target: Any, ridge: float = 1e-6, washout: int = 0,
                    h0: Any = None) -> float:
        """Set the readout by ridge regression, W = Y^T S (S^T S + ridge I)^-1; returns its MSE.

        The first ``washout`` steps (transient from h0) are left out; the bias is not penalized.
        The solve runs in float64 on the states' device.
        """
        with no_grad():
            s = self.states(input, h0)._data
        y = B.move_like(B.asarray(target._data if isinstance(target, Tensor) else target), s)
        if y.shape != (*s.shape[:-1], self.output_size):
            raise ValueError(f"EchoState.fit_readout: target of shape {y.shape} does not match "
                             f"the states' shape {s.shape} (expected "
                             f"{(*s.shape[:-1], self.output_size)})")
        t_axis = 1 if s.ndim == 3 and self.batch_first else 0
        s = np.moveaxis(s, t_axis, 0)[washout:].reshape(-1, self.reservoir_size)
        y = np.moveaxis(y, t_axis, 0)[washout:].reshape(-1, self.output_size)
        xp = B.namespace(s)
        s64 = xp.concatenate([s.astype(np.float64), xp.ones((len(s), 1))], axis=1)
        reg = ridge * xp.eye(s64.shape[1])
        reg[-1, -1] = 0.0
        coef = xp.linalg.solve(s64.T @ s64 + reg, s64.T @ y.astype(np.float64))
        self.readout.weight._data[...] = B.move_like(coef[:-1].T, self.readout.weight._data)
        self.readout.bias._data[...] = B.move_like(coef[-1], self.readout.bias._data)
        return float(np.mean((s64 @ coef - y) ** 2))

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.reservoir_size}, {self.output_size}, "
                f"spectral_radius={self.spectral_radius}, leak={self.leak}")
