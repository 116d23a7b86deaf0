"""Attention: ``scaled_dot_product_attention`` and ``MultiheadAttention``, as PyTorch's.

Built from chainrule's differentiable ops (matmul, softmax, where, ...).  Every mask becomes one
additive float mask (0 where a key is attended, -inf where it is masked), so a masked position
gets a weight of exactly zero and a gradient of exactly zero.  A query row whose keys are all
masked gives what PyTorch gives: zeros from ``scaled_dot_product_attention`` (PyTorch's safe
softmax, also used by ``MultiheadAttention(need_weights=False)``), NaN from
``MultiheadAttention(need_weights=True)``, whose softmax PyTorch leaves unguarded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule import ops
from chainrule.autodiff import function
from chainrule.device import as_device
from chainrule.dtypes import get_default_dtype
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor, as_operand

__all__ = ["MultiheadAttention", "causal_mask", "scaled_dot_product_attention"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))



def causal_mask(tgt_len: int, src_len: int, dtype: Any) -> np.ndarray:
    """An additive (tgt_len, src_len) mask: -inf above the diagonal, 0 on and below it."""
    return np.triu(np.full((tgt_len, src_len), -np.inf, dtype=dtype), 1)


def additive_mask(name: str, mask: Any, dtype: Any, true_masks: bool) -> Tensor | None:
    """A boolean or float mask as an additive float mask (0 attended, -inf masked).

    A boolean True masks a position when true_masks (MultiheadAttention's convention), else it
    marks a position that takes part (scaled_dot_product_attention's).  A float mask is added
    as it is (a Tensor keeps its graph).
    """
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.dtype.kind == "f":
        return mask if mask.dtype == dtype else ops.astype(mask, dtype)
    m = mask._data if isinstance(mask, Tensor) else B.asarray(mask)
    if m.dtype == np.bool_:
        if function.traced():  # cr.compile, ONNX export: Tensor ops, on each new mask
            t = mask if isinstance(mask, Tensor) else as_operand(m)
            inf, zero = B.like(np.array(-np.inf, dtype), m), B.like(np.array(0.0, dtype), m)
            return ops.where(t, inf, zero) if true_masks else ops.where(t, zero, inf)
        return Tensor(np.where(m if true_masks else ~m, -np.inf, 0.0).astype(dtype))
    if m.dtype.kind == "f":
        return Tensor(m.astype(dtype))
    raise TypeError(f"{name}: only bool and floating masks are supported, got dtype {m.dtype}")


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float,
           scale: float, dead_rows: float = 0.0) -> tuple[Tensor, Tensor]:
    """softmax(q k^T scale + mask) v over the last two axes; returns (output, weights).

    Rows whose keys are all masked get weights dead_rows (0.0 or NaN) instead of the NaN of
    softmax over -inf; their logits are replaced first so no gradient there turns into NaN.
    """
    s = ops.matmul(q * scale, ops.swapaxes(k, -1, -2))
    if mask is not None:
        if not mask.requires_grad and mask._tangents is None:  # a constant: to the scores' device
            mask = B.move_like(mask._data, s._data)
        s = s + mask
        if function.traced():
            # cr.compile, ONNX export: a Tensor mask applied whether or not a row is dead, on
            # each new scores (with no dead row, where gives softmax's own bits, as the branch
            # below)
            dead_t = (s == -np.inf).all(-1, keepdim=True)
            s = ops.where(dead_t, s.dtype.type(0), s)
            p = ops.where(dead_t, np.full((), dead_rows, s.dtype), ops.softmax(s, -1))
        else:
            dead = np.isneginf(s._data).all(axis=-1, keepdims=True)
            if dead.any():
                s = ops.where(dead, s.dtype.type(0), s)
                p = ops.where(dead, np.full((), dead_rows, s.dtype), ops.softmax(s, -1))
            else:
                p = ops.softmax(s, -1)
    else:
        p = ops.softmax(s, -1)
    if dropout_p > 0.0:
        p = F.dropout(p, dropout_p, training=True)
    return ops.matmul(p, v), p


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T scale + mask) V, scale = 1/sqrt(E) by default, as PyTorch's.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).  A boolean attn_mask
    is True where a position takes part; a float one is added to the scores.  is_causal masks
    the keys after each query (top-left aligned).  Fully masked rows give zeros.
    """
    name = "scaled_dot_product_attention"
    q, k, v = _t(query), _t(key), _t(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{name}: query, key and value need at least 2 dimensions, got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: query {q.shape}, key {k.shape} and value {v.shape} do not "
                         "match (need query[-1] == key[-1] and key[-2] == value[-2])")
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hq % hk or v.shape[-3] != hk:
            raise ValueError(f"{name}: {hq} query heads cannot be grouped over {hk} key heads")
        heads = B.like(np.arange(hq) // (hq // hk), k._data)
        k, v = ops.take(k, heads, axis=-3), ops.take(v, heads, axis=-3)
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: attn_mask must be None when is_causal is True")
        mask: Tensor | None = Tensor(causal_mask(q.shape[-2], k.shape[-2], q.dtype))
    else:
        mask = additive_mask(name, attn_mask, q.dtype, true_masks=False)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return attend(q, k, v, mask, dropout_p, scale)[0]


class MultiheadAttention(Module):
    """Multi-head attention, as PyTorch's: out_proj(concat_h softmax(Q_h K_h^T / sqrt(d)) V_h).

    Parameters as PyTorch's: in_proj_weight (3E, E) and in_proj_bias (3E,), or q_proj_weight,
    k_proj_weight, v_proj_weight when kdim or vdim differ from embed_dim; out_proj (Linear);
    bias_k, bias_v (1, 1, E) with add_bias_kv.  Inputs are (L, N, E), (N, L, E) with
    batch_first, or unbatched (L, E).  Initialization: xavier_uniform_ projections, zero biases.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        as_device(device, "MultiheadAttention")
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError("MultiheadAttention: embed_dim and num_heads must be greater than 0,"
                             f" got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        dt = get_default_dtype() if dtype is None else dtype
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dt))
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        else:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dt))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dt))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialization: xavier_uniform_ projections, zero biases, xavier_normal_ kv."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        """(attn_output, attn_weights), shaped as PyTorch's (weights None unless need_weights).

        key_padding_mask (N, S) and attn_mask (L, S) or (N * num_heads, L, S): True (bool) masks
        a position, a float mask is added to the scores.  is_causal is a hint, as in PyTorch: it
        needs attn_mask, and replaces it by the causal mask when no key_padding_mask is given
        and need_weights is False.
        """
        name = "MultiheadAttention"
        self_attention = query is key and key is value
        query, key, value = _t(query), _t(key), _t(value)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or 2-D "
                             f"(unbatched), got shapes {query.shape}, {key.shape}, {value.shape}")
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal is a hint that needs attn_mask")
        if not batched:
            query, key, value = (ops.expand_dims(x, 0) for x in (query, key, value))
        elif not self.batch_first:
            query, key, value = (ops.swapaxes(x, 0, 1) for x in (query, key, value))
        n, tgt_len, e = query.shape
        if (e != self.embed_dim or key.shape[0] != n or value.shape[:2] != key.shape[:2]
                or key.shape[2] != self.kdim or value.shape[2] != self.vdim):
            raise ValueError(f"{name}: query {query.shape}, key {key.shape} and value "
                             f"{value.shape} (batch first) do not fit embed_dim={self.embed_dim},"
                             f" kdim={self.kdim}, vdim={self.vdim}")
        q, k, v = self._in_projection(query, key, value, self_attention)
        src_len = k.shape[1]
        if self.bias_k is not None:
            k = ops.concatenate([k, ops.broadcast_to(self.bias_k, (n, 1, e))], axis=1)
            v = ops.concatenate([v, ops.broadcast_to(self.bias_v, (n, 1, e))], axis=1)
        if self.add_zero_attn:
            zeros = np.zeros((n, 1, e), q.dtype)
            k, v = ops.concatenate([k, zeros], axis=1), ops.concatenate([v, zeros], axis=1)
        if is_causal and key_padding_mask is None and not need_weights:
            mask: Tensor | None = Tensor(causal_mask(tgt_len, k.shape[1], q.dtype))
        else:
            mask = self._mask(attn_mask, key_padding_mask, n, tgt_len, src_len, batched, q.dtype)
            if mask is not None and k.shape[1] > src_len:
                mask = ops.pad(mask, [(0, 0)] * 3 + [(0, k.shape[1] - src_len)])
        q, k, v = (self._heads(x) for x in (q, k, v))
        dropout_p = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, mask, dropout_p, 1.0 / math.sqrt(self.head_dim),
                              np.nan if need_weights else 0.0)
        out = self.out_proj(ops.reshape(ops.swapaxes(out, 1, 2), (n, tgt_len, e)))
        if not batched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, axis=1)
        return out, (weights if batched else ops.squeeze(weights, 0))

    def _in_projection(self, query: Tensor, key: Tensor, value: Tensor, self_attention: bool
                       ) -> tuple[Tensor, Tensor, Tensor]:
        """The three input projections; one product when query, key and value are one tensor."""
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if self_attention:
            q, k, v = ops.split(F.linear(query, w, b), 3, axis=-1)
            return q, k, v
        return (F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk),
                F.linear(value, w[2 * e:], bv))

    def _heads(self, x: Tensor) -> Tensor:
        """(N, S, E) -> (N, num_heads, S, head_dim)."""
        n, s, _ = x.shape
        return ops.swapaxes(ops.reshape(x, (n, s, self.num_heads, self.head_dim)), 1, 2)

    def _mask(self, attn_mask: Any, key_padding_mask: Any, n: int, tgt_len: int, src_len: int,
              batched: bool, dtype: Any) -> Tensor | None:
        """attn_mask and key_padding_mask merged into one additive (N|1, H|1, L, S) mask."""
        name = "MultiheadAttention"
        h = self.num_heads
        am = additive_mask(name, attn_mask, dtype, true_masks=True)
        if am is not None:
            if am.ndim == 2:
                if am.shape != (tgt_len, src_len):
                    raise ValueError(f"{name}: the 2-D attn_mask has shape {am.shape}, but "
                                     f"should be {(tgt_len, src_len)}")
                am = ops.reshape(am, (1, 1, tgt_len, src_len))
            elif am.ndim == 3:
                want = (n * h if batched else h, tgt_len, src_len)
                if am.shape != want:
                    raise ValueError(f"{name}: the 3-D attn_mask has shape {am.shape}, but "
                                     f"should be {want}")
                am = ops.reshape(am, (n, h, tgt_len, src_len))
            else:
                raise ValueError(f"{name}: attn_mask must be 2-D or 3-D, got shape {am.shape}")
        kpm = additive_mask(name, key_padding_mask, dtype, true_masks=True)
        if kpm is not None:
            want_kpm = (n, src_len) if batched else (src_len,)
            if kpm.shape != want_kpm:
                raise ValueError(f"{name}: key_padding_mask has shape {kpm.shape}, but should "
                                 f"be {want_kpm}")
            kpm = ops.reshape(kpm, (n, 1, 1, src_len))
        if am is None or kpm is None:
            return am if kpm is None else kpm
        return am + kpm

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
