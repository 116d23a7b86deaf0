"""Recurrent layers: RNN (tanh | relu), LSTM, GRU and their cells, as PyTorch's.

Parameter names, shapes, gate orders (LSTM i, f, g, o; GRU r, z, n), initialization
U(-1/sqrt(hidden), 1/sqrt(hidden)), options and return values follow PyTorch, so weights port
both ways.  Each layer and direction runs as one fused op of ``chainrule.ops.recurrent``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.recurrent import GRUScan, LSTMScan, RNNScan
from chainrule.tensor import Tensor

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _scan(mode: str, x: Tensor, weights: list[Any], states: tuple[Any, ...],
          reverse: bool) -> Tensor:
    """One layer in one direction: (T, B, H), or (T + 1, B, H) with the final cell for LSTM."""
    if mode == "LSTM":
        return LSTMScan.apply(x, *weights, *states, reverse)
    if mode == "GRU":
        return GRUScan.apply(x, *weights, *states, reverse)
    return RNNScan.apply(x, *weights, *states, "relu" if mode == "RNN_RELU" else "tanh", reverse)


class RNNBase(Module):
    """The shared multi-layer, optionally bidirectional recurrence of RNN, LSTM and GRU."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        as_device(device, name)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive integer, got {hidden_size}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        dt = get_default_dtype() if dtype is None else dtype
        gh = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_names: list[list[str]] = []
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], Parameter(np.empty((gh, n_in), dt)))
                setattr(self, names[1], Parameter(np.empty((gh, hidden_size), dt)))
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], Parameter(np.empty(gh, dt)))
                    setattr(self, names[3], Parameter(np.empty(gh, dt)))
                self._flat_names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, k: int) -> list[Any]:
        """W_ih, W_hh, b_ih, b_hh of layer-direction k (zero constants without bias)."""
        ps = [getattr(self, n) for n in self._flat_names[k]]
        if not self.bias:
            w = ps[1]._data
            zeros = B.zeros(w.shape[0], w.dtype, w)
            ps += [zeros, zeros]
        return ps

    def _check_input(self, x: Tensor) -> bool:
        """Validate x's shape; returns whether it is batched (3-D)."""
        name = type(self).__name__
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D (batched) input, got "
                             f"shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape} has {x.shape[-1]} features, "
                             f"expected input_size={self.input_size}")
        return x.ndim == 3

    def _initial(self, hx: Any, batch: int, batched: bool, x: Tensor, what: str) -> Any:
        """A (L*D, B, H) initial state: zeros when hx is None, else hx checked (and batched)."""
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            return B.zeros(shape, x._data.dtype, x._data)
        hx = _as_tensor(hx)
        want = shape if batched else (shape[0], shape[2])
        if hx.shape != want:
            kind = "batched" if batched else "unbatched"
            raise ValueError(f"{type(self).__name__}: {what} of shape {hx.shape} does not match "
                             f"the {kind} input of shape {x.shape} (expected {want})")
        return hx if batched else ops.expand_dims(hx, 1)

    def flatten_parameters(self) -> None:
        """A no-op: the weights are already laid out for the fused kernel (PyTorch/cuDNN)."""

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        x = _as_tensor(input)
        batched = self._check_input(x)
        given = x
        lstm = self.mode == "LSTM"
        if batched:
            if self.batch_first:
                x = ops.swapaxes(x, 0, 1)
        else:
            x = ops.expand_dims(x, 1)
        n_t, n_b = x.shape[0], x.shape[1]
        if lstm:
            if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0 = self._initial(None if hx is None else hx[0], n_b, batched, given, "h_0")
            c0 = self._initial(None if hx is None else hx[1], n_b, batched, given, "c_0")
        else:
            h0 = self._initial(hx, n_b, batched, given, "hx")
        dirs = 2 if self.bidirectional else 1
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            seqs = []
            for d in range(dirs):
                k = layer * dirs + d
                states = (h0[k], c0[k]) if lstm else (h0[k],)
                out = _scan(self.mode, x, self._weights(k), states, bool(d))
                last = 0 if d else n_t - 1
                h_n.append(out[last:last + 1])
                if lstm:
                    c_n.append(out[n_t:])
                    out = out[:n_t]
                seqs.append(out)
            x = seqs[0] if dirs == 1 else ops.concatenate(seqs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        hn = h_n[0] if len(h_n) == 1 else ops.concatenate(h_n, axis=0)
        if batched:
            if self.batch_first:
                x = ops.swapaxes(x, 0, 1)
        else:
            x = ops.squeeze(x, 1)
            hn = ops.squeeze(hn, 1)
        if not lstm:
            return x, hn
        cn = c_n[0] if len(c_n) == 1 else ops.concatenate(c_n, axis=0)
        return x, (hn, cn if batched else ops.squeeze(cn, 1))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    forward(input, h_0=None) -> (output, h_n): input (T, B, I) (or (B, T, I) with batch_first,
    or (T, I) unbatched); output (T, B, D H); h_n (L D, B, H), D = 2 if bidirectional.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype, device)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM: gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t).

    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n)), shapes as RNN's.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        if proj_size:
            raise NotImplementedError("LSTM: proj_size > 0 is not supported yet")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype, device)


class GRU(RNNBase):
    """GRU: r, z gates; n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h_t = (1 - z) n + z h_{t-1}.

    forward(input, h_0=None) -> (output, h_n), shapes as RNN's.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype, device)


# ----- cells: one time step, run as the fused op over a sequence of length 1 -----
class RNNCellBase(Module):
    """weight_ih (G H, I), weight_hh (G H, H), bias_ih, bias_hh (G H,), as PyTorch's cells."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = get_default_dtype() if dtype is None else dtype
        gh = _GATES[mode] * hidden_size
        self.weight_ih = Parameter(np.empty((gh, input_size), dt))
        self.weight_hh = Parameter(np.empty((gh, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(gh, dt))
            self.bias_hh = Parameter(np.empty(gh, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input: Any, states: tuple[Any, ...]) -> tuple[Tensor, bool]:
        """One step as the fused op on a length-1 sequence: its output and whether x is batched."""
        name = type(self).__name__
        x = _as_tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape} does not match input_size="
                             f"{self.input_size} (expected (batch, {self.input_size}) or "
                             f"({self.input_size},))")
        batched = x.ndim == 2
        n_b = x.shape[0] if batched else 1
        want = (n_b, self.hidden_size) if batched else (self.hidden_size,)
        full = []
        for s in states:
            if s is None:
                full.append(self._zero_state(n_b, x))
                continue
            s = _as_tensor(s)
            if s.shape != want:
                raise ValueError(f"{name}: hidden state of shape {s.shape} does not match input "
                                 f"of shape {x.shape} (expected {want})")
            full.append(s if batched else ops.reshape(s, (1, self.hidden_size)))
        x = ops.reshape(x, (1, n_b, self.input_size))
        return _scan(self.mode, x, self._weights(), tuple(full), False), batched

    def _zero_state(self, n_b: int, x: Tensor) -> Any:
        """The zero state of a batch of n_b (hx or cx not given): a constant."""
        return B.zeros((n_b, self.hidden_size), x._data.dtype, x._data)

    def _weights(self) -> list[Any]:
        """W_ih, W_hh, b_ih, b_hh (zero constants without bias)."""
        ws: list[Any] = [self.weight_ih, self.weight_hh]
        if self.bias:
            return [*ws, self.bias_ih, self.bias_hh]
        w = ws[1]._data
        zeros = B.zeros(w.shape[0], w.dtype, w)
        return [*ws, zeros, zeros]

    def _unstep(self, out: Tensor, row: int, batched: bool) -> Tensor:
        return out[row] if batched else ops.reshape(out[row], (self.hidden_size,))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu; forward(input, hx=None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        as_device(device, "RNNCell")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        out, batched = self._step(input, (hx,))
        return self._unstep(out, 0, batched)


class LSTMCell(RNNCellBase):
    """(h', c') from one LSTM step; forward(input, (h, c)=None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        as_device(device, "LSTMCell")
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        out, batched = self._step(input, (None, None) if hx is None else tuple(hx))
        return self._unstep(out, 0, batched), self._unstep(out, 1, batched)


class GRUCell(RNNCellBase):
    """h' = (1 - z) n + z h from one GRU step; forward(input, hx=None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        as_device(device, "GRUCell")
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        out, batched = self._step(input, (hx,))
        return self._unstep(out, 0, batched)
