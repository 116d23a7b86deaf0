"""Transformer layers, stacks and the encoder-decoder model, as PyTorch's.

Signatures, submodule and parameter names (``self_attn``, ``linear1``, ``norm1``, ...), masks
and initialization follow ``torch.nn.Transformer*``, so a PyTorch state dict loads unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff.modes import is_grad_enabled
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.activation import GELU, ReLU
from chainrule.nn.attention import MultiheadAttention, causal_mask
from chainrule.nn.containers import ModuleList
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import LayerNorm
from chainrule.tensor import Tensor

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]

Activation = str | Callable[[Tensor], Tensor]


def _activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if isinstance(activation, str) or not callable(activation):
        raise ValueError(f"activation should be relu/gelu or a callable, not {activation!r}")
    return activation


def _relu_or_gelu(activation: Callable[[Tensor], Tensor]) -> int:
    """PyTorch's activation_relu_or_gelu flag: 1 relu, 2 gelu, 0 anything else."""
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    return 2 if activation is F.gelu or isinstance(activation, GELU) else 0


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


class _FeedForwardLayer(Module):
    """What the encoder and decoder layers share: the feed-forward block and its options."""

    def _feed_forward_init(self, d_model: int, dim_feedforward: int, dropout: float,
                           activation: Activation, bias: bool, dtype: Any) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)

    def _set_activation(self, activation: Activation) -> None:
        self.activation = _activation(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(self.activation)

    def _ff_block(self, x: Tensor, out_dropout: Dropout) -> Tensor:
        return out_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    @staticmethod
    def _attention(attn: MultiheadAttention, x: Tensor, mem: Tensor, mask: Any,
                   key_padding_mask: Any, is_causal: bool, out_dropout: Dropout) -> Tensor:
        out = attn(x, mem, mem, attn_mask=mask, key_padding_mask=key_padding_mask,
                   is_causal=bool(is_causal), need_weights=False)[0]
        return out_dropout(out)


class TransformerEncoderLayer(_FeedForwardLayer):
    """Self-attention then a feed-forward block, each with a residual and LayerNorm (post-norm,
    or pre-norm with norm_first), as PyTorch's."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "TransformerEncoderLayer")
        dt = get_default_dtype() if dtype is None else dtype
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self._feed_forward_init(d_model, dim_feedforward, dropout, activation, bias, dt)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self._set_activation(activation)

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """src (S, N, E), or (N, S, E) with batch_first, or unbatched (S, E)."""
        x = _t(src)
        if self.norm_first:
            h = self.norm1(x)
            x = x + self._attention(self.self_attn, h, h, src_mask, src_key_padding_mask,
                                    is_causal, self.dropout1)
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._attention(self.self_attn, x, x, src_mask, src_key_padding_mask,
                                           is_causal, self.dropout1))
        return self.norm2(x + self._ff_block(x, self.dropout2))


class TransformerDecoderLayer(_FeedForwardLayer):
    """Self-attention, attention over the memory, then a feed-forward block, each with a
    residual and LayerNorm (post-norm, or pre-norm with norm_first), as PyTorch's."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "TransformerDecoderLayer")
        dt = get_default_dtype() if dtype is None else dtype
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dt)
        self._feed_forward_init(d_model, dim_feedforward, dropout, activation, bias, dt)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self._set_activation(activation)

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """tgt (T, N, E) and memory (S, N, E), or batch first, or unbatched."""
        x, mem = _t(tgt), _t(memory)
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal, self.dropout1)
        ca = (memory_mask, memory_key_padding_mask, memory_is_causal, self.dropout2)
        if self.norm_first:
            h = self.norm1(x)
            x = x + self._attention(self.self_attn, h, h, *sa)
            x = x + self._attention(self.multihead_attn, self.norm2(x), mem, *ca)
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._attention(self.self_attn, x, x, *sa))
        x = self.norm2(x + self._attention(self.multihead_attn, x, mem, *ca))
        return self.norm3(x + self._ff_block(x, self.dropout3))


def _sparsity_fast_path_layer(layer: Module) -> bool:
    """The layer options under which PyTorch's TransformerEncoder may use nested tensors."""
    if not isinstance(layer, TransformerEncoderLayer):
        return False
    attn = layer.self_attn
    return (not layer.norm_first and attn.batch_first and attn._qkv_same_embed_dim
            and attn.in_proj_bias is not None and layer.activation_relu_or_gelu > 0
            and layer.norm1.eps == layer.norm2.eps and attn.num_heads % 2 == 0)


def _clones(layer: Module, num_layers: int) -> ModuleList:
    """num_layers deep copies of layer (identical initial weights, as PyTorch's _get_clones)."""
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """A stack of num_layers copies of encoder_layer, then an optional norm, as PyTorch's."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor and _sparsity_fast_path_layer(encoder_layer)
        self.mask_check = mask_check

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        """Run every layer with the same masks; is_causal is a hint (the mask is what counts)."""
        out = _t(src)
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=bool(is_causal))
        padded = self._nested_padding(src, mask, src_key_padding_mask)
        if padded is not None:
            out = ops.where(padded[..., None], out.dtype.type(0), out)
        return self.norm(out) if self.norm is not None else out

    def _nested_padding(self, src: Any, mask: Any, key_padding_mask: Any) -> np.ndarray | None:
        """The padded positions where PyTorch would run this call on nested tensors, which
        return zeros there: inference (eval, no gradient), a right-padded key_padding_mask,
        no mask, and layers its fast path supports; else None."""
        if (not self.use_nested_tensor or mask is not None or key_padding_mask is None
                or np.ndim(src) != 3 or self.layers[0].training):
            return None
        tensors = [src, *self.layers[0].parameters()]
        if is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in tensors):
            return None
        padded = np.asarray(getattr(key_padding_mask, "_data", key_padding_mask)) != 0
        if padded.shape != np.shape(src)[:2]:
            return None
        if self.mask_check and (padded[:, :-1] & ~padded[:, 1:]).any():
            return None  # not left aligned
        return padded


class TransformerDecoder(Module):
    """A stack of num_layers copies of decoder_layer, then an optional norm, as PyTorch's."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        """Run every layer over the same memory and masks."""
        out = _t(tgt)
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(out) if self.norm is not None else out


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as PyTorch's.

    Every parameter with more than one dimension is initialized xavier_uniform_.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "Transformer")
        dt = get_default_dtype() if dtype is None else dtype
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, dtype=dt), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, dtype=dt), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None, src_key_padding_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """Encode src, decode tgt over the memory: (T, N, E), or (N, T, E) with batch_first."""
        src, tgt = _t(src), _t(tgt)
        b = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[b] != tgt.shape[b]:
            raise ValueError(f"Transformer: the batch number of src {src.shape} and tgt "
                             f"{tgt.shape} must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src {src.shape} and tgt "
                             f"{tgt.shape} must be equal to d_model {self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None
                                        ) -> Tensor:
        """A (sz, sz) float mask: -inf above the diagonal, 0 on and below it (as PyTorch)."""
        as_device(device, "generate_square_subsequent_mask")
        return Tensor(causal_mask(sz, sz, get_default_dtype() if dtype is None else dtype))

