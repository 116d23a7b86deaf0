"""Export of transposed convolutions, attention, transformer layers, padded embeddings and
advanced indexing: onnx.checker, onnxruntime equality at two batch sizes, and round trip."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx_helpers import TOL, max_diff, run_cr, run_ort  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.onnx as cro  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.tensor import Tensor  # noqa: E402

BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}
BATCH_SEQ = {"input": {0: "batch", 1: "seq"}, "output": {0: "batch", 1: "seq"}}


class SelfAttention(nn.Module):
    """MultiheadAttention over one input; returns the output or the averaged weights."""

    def __init__(self, weights: bool = False, causal: int = 0, batch_first: bool = True) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=batch_first)
        self.weights = weights
        self.mask = None if not causal else nn.Transformer.generate_square_subsequent_mask(causal)

    def forward(self, x: Tensor) -> Tensor:
        out, w = self.attn(x, x, x, attn_mask=self.mask, need_weights=self.weights)
        return w if self.weights else out


class Encoder(nn.Module):
    """A two-layer TransformerEncoder (final LayerNorm), optionally causal."""

    def __init__(self, causal: int = 0, **layer: Any) -> None:
        super().__init__()
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True,
                                                                    **layer),
                                         2, nn.LayerNorm(8))
        self.mask = None if not causal else nn.Transformer.generate_square_subsequent_mask(causal)

    def forward(self, x: Tensor) -> Tensor:
        return self.enc(x, mask=self.mask)


class Index(nn.Module):
    """x[index] for a fixed index (integer lists, a boolean mask, ...)."""

    def __init__(self, index: Any) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        return x[self.index]


class Rows(nn.Module):
    """A recurrent layer's output sequence."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: Tensor) -> Tensor:
        return self.rnn(x)[0]


class Where(nn.Module):
    """where with a constant condition (masked fill of alternate features)."""

    def forward(self, x: Tensor) -> Tensor:
        return cr.where(np.array([True, False, True, False]), x, -2.0 * x)


Case = tuple[Callable[[], nn.Module], tuple[int, ...], dict]
IDX_NONADJ = (slice(None), np.array([0, 2]), slice(1, 3), np.array([1, 0]))
LAYERS: dict[str, Case] = {
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1,
                                                    output_padding=1), (3, 5), BATCH),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                    output_padding=1, groups=2, dilation=2,
                                                    bias=False), (4, 5, 4), BATCH),
    "conv_transpose2d_plain": (lambda: nn.ConvTranspose2d(2, 3, (2, 3)), (2, 4, 4), BATCH),
    "mha": (lambda: SelfAttention(), (5, 8), BATCH_SEQ),
    "mha_weights": (lambda: SelfAttention(weights=True), (5, 8), BATCH),
    "mha_causal": (lambda: SelfAttention(causal=5), (5, 8), BATCH),
    "mha_seq_first": (lambda: SelfAttention(batch_first=False), (3, 8),
                      {"input": {0: "seq", 1: "batch"}, "output": {0: "seq", 1: "batch"}}),
    "encoder": (lambda: Encoder(), (5, 8), BATCH_SEQ),
    "encoder_causal_gelu_prenorm": (lambda: Encoder(causal=5, activation="gelu",
                                                    norm_first=True), (5, 8), BATCH),
    "index_two_lists": (lambda: Index((slice(None), [0, 2], [1, 1])), (3, 4), BATCH),
    "index_nonadjacent": (lambda: Index(IDX_NONADJ), (3, 4, 5),
                          {"input": {0: "batch"}, "output": {1: "batch"}}),
    "index_int_and_list": (lambda: Index((Ellipsis, 1, [0, 2, 2])), (2, 3), BATCH),
    "index_bool_const": (lambda: Index((slice(None), np.array([True, False, True, True]))),
                         (4, 2), BATCH),
    "where_const": (lambda: Where(), (3, 4), BATCH),
    "lstm_dynamic_seq": (lambda: Rows(nn.LSTM(3, 4, batch_first=True, bidirectional=True)),
                         (5, 3), BATCH_SEQ),
    "gru_dynamic_seq": (lambda: Rows(nn.GRU(3, 4, num_layers=2, batch_first=True)), (5, 3),
                        BATCH_SEQ),
}


def _batch_axis(dyn: dict) -> int:
    return next(a for a, n in dyn["input"].items() if n == "batch")


def _sizes(shape: tuple[int, ...], dyn: dict, batch: int, seq: int | None) -> tuple[int, ...]:
    """The input shape at another batch size (and sequence length) along dyn's named axes."""
    full = list(shape)
    full.insert(_batch_axis(dyn), 0)
    for a, n in dyn["input"].items():
        if n == "batch":
            full[a] = batch
        elif seq is not None:
            full[a] = seq
    return tuple(full)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_and_round_trips(name: str, rng: np.random.Generator) -> None:
    build, shape, dyn = LAYERS[name]
    cr.manual_seed(0)
    model = build()
    model.eval()
    x = rng.standard_normal(_sizes(shape, dyn, 3, None)).astype(np.float32)
    buf = io.BytesIO()
    cro.export(model, (x,), buf, input_names=["input"], output_names=["output"],
               dynamic_axes=dyn)
    data = buf.getvalue()
    back = cro.load(io.BytesIO(data))
    seqs = [None, 7] if "seq" in dyn["input"].values() else [None]
    for batch in (3, 5):
        for seq in seqs:
            xb = rng.standard_normal(_sizes(shape, dyn, batch, seq)).astype(np.float32)
            want = run_cr(model, xb)
            assert max_diff(run_ort(data, xb), want) < TOL, (batch, seq)
            assert max_diff(run_cr(back, xb), want) < TOL, (batch, seq)


class Lookup(nn.Module):
    """Embedding with a padding row, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 6, padding_idx=0)
        self.fc = nn.Linear(6, 3)

    def forward(self, ids: Tensor) -> Tensor:
        return self.fc(self.emb(ids))


def test_embedding_padding_idx(rng: np.random.Generator) -> None:
    import onnx

    model = Lookup()
    ids = rng.integers(0, 20, (3, 4))
    ids[:, -1] = 0  # the padding row is looked up in the example
    buf = io.BytesIO()
    cro.export(model, (ids,), buf, dynamic_axes=BATCH)
    data = buf.getvalue()
    assert {n.op_type for n in onnx.load_from_string(data).graph.node} >= {"Gather"}
    assert "Where" not in {n.op_type for n in onnx.load_from_string(data).graph.node}
    back = cro.load(io.BytesIO(data))
    for batch in (3, 6):
        x = rng.integers(0, 20, (batch, 4))
        x[0, :2] = 0
        assert max_diff(run_ort(data, x), run_cr(model, x)) < TOL
        assert max_diff(run_cr(back, x), run_cr(model, x)) < TOL


class Masked(nn.Module):
    """The rows of x that an input boolean mask selects, scaled."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return x[mask] * 2.0


class TwoIds(nn.Module):
    """x at (row ids, column ids) given as inputs."""

    def forward(self, x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        return x[rows, cols] + 1.0


def _ort(data: bytes, *xs: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})[0]


def test_input_boolean_mask_selects_at_run_time(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 3)).astype(np.float32)
    buf = io.BytesIO()
    cro.export(Masked(), (x, np.array([True, False, True, False])), buf,
               input_names=["x", "mask"],
               dynamic_axes={"x": {0: "n"}, "mask": {0: "n"}, "output": {0: "m"}})
    back = cro.load(io.BytesIO(buf.getvalue()))
    for n in (4, 6):
        xb = rng.standard_normal((n, 3)).astype(np.float32)
        mask = rng.random(n) < 0.5
        want = xb[mask] * 2.0
        assert max_diff(_ort(buf.getvalue(), xb, mask), want) < TOL
        assert max_diff(back(xb, mask).cpu().numpy(), want) < TOL


def test_input_index_arrays(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 6)).astype(np.float32)
    buf = io.BytesIO()
    cro.export(TwoIds(), (x, np.array([0, 4, 1]), np.array([5, 0, 2])), buf,
               dynamic_axes={"input_1": {0: "k"}, "input_2": {0: "k"}, "output_0": {0: "k"}})
    rows, cols = np.array([3, 3, 0, 1]), np.array([1, 2, 5, 0])
    assert max_diff(_ort(buf.getvalue(), x, rows, cols), x[rows, cols] + 1) < TOL


def test_input_used_outside_the_graph_is_refused() -> None:
    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 2)

        def forward(self, ids: Tensor) -> Tensor:
            return self.emb(ids + 1)  # integer arithmetic: not recorded

    with pytest.raises(cro.UnsupportedOpError, match="input 'input'"):
        cro.export(Shifted(), (np.array([[1, 2]]),), io.BytesIO())
