"""Import of PyTorch's own exports (torch.onnx.export, dynamo=False) of transposed
convolutions, attention, transformer encoders, padded embeddings, advanced indexing and
recurrent layers with a dynamic sequence length: cr.onnx.load gives PyTorch's outputs."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx_helpers import TOL, max_diff, run_cr  # noqa: E402

import chainrule.onnx as cro  # noqa: E402

tnn = torch.nn
BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}
BATCH_SEQ = {"input": {0: "batch", 1: "seq"}, "output": {0: "batch", 1: "seq"}}


class Attention(tnn.Module):
    """Self-attention (batch first); the output, or the head-averaged weights."""

    def __init__(self, weights: bool = False) -> None:
        super().__init__()
        self.attn = tnn.MultiheadAttention(8, 2, batch_first=True)
        self.weights = weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, w = self.attn(x, x, x, need_weights=self.weights)
        return w if self.weights else out


class Encoder(tnn.Module):
    """Two encoder layers and a final LayerNorm; with a causal mask of length causal."""

    def __init__(self, causal: int = 0, **layer: object) -> None:
        super().__init__()
        one = tnn.TransformerEncoderLayer(8, 2, 16, batch_first=True, **layer)
        self.enc = tnn.TransformerEncoder(one, 2, tnn.LayerNorm(8), enable_nested_tensor=False)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.causal:
            mask = tnn.Transformer.generate_square_subsequent_mask(self.causal)
        return self.enc(x, mask=mask)


class Lookup(tnn.Module):
    """Embedding with padding_idx, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = tnn.Embedding(20, 6, padding_idx=0)
        self.fc = tnn.Linear(6, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(self.emb(ids))


class TwoLists(tnn.Module):
    """x[:, [0, 2], [1, 1]] and x[..., [2, 0]] (PyTorch's index patterns)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, [0, 2], [1, 1]] + x[..., [2, 0]][:, :2, 0]


class Rows(tnn.Module):
    """A recurrent layer's output sequence, plus its final hidden state broadcast over it."""

    def __init__(self, rnn: tnn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)
        h = h[0] if isinstance(h, tuple) else h
        return out[..., :4] + h[-1][:, None, :]


Case = tuple[Callable[[], tnn.Module], tuple[int, ...], dict]
CASES: dict[str, Case] = {
    "conv_transpose1d": (lambda: tnn.ConvTranspose1d(3, 4, 3, stride=2, padding=1,
                                                     output_padding=1), (3, 5), BATCH),
    "conv_transpose2d": (lambda: tnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                     output_padding=1, groups=2, dilation=2),
                         (4, 5, 4), BATCH),
    "mha": (lambda: Attention(), (5, 8), BATCH),  # PyTorch's trace fixes the length
    "mha_weights": (lambda: Attention(weights=True), (5, 8), BATCH),
    "encoder": (lambda: Encoder(), (5, 8), BATCH),
    "encoder_causal_gelu_prenorm": (lambda: Encoder(5, activation="gelu", norm_first=True),
                                    (5, 8), BATCH),
    "index_lists": (lambda: TwoLists(), (3, 4), BATCH),
    "lstm_dynamic_seq": (lambda: Rows(tnn.LSTM(3, 4, batch_first=True, bidirectional=True)),
                         (5, 3), BATCH_SEQ),
    "gru_dynamic_seq": (lambda: Rows(tnn.GRU(3, 4, num_layers=2, batch_first=True)), (5, 3),
                        BATCH_SEQ),
}


def _export(model: tnn.Module, x: torch.Tensor, dyn: dict) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, input_names=["input"], output_names=["output"],
                          dynamic_axes=dyn, opset_version=17, dynamo=False)
    return buf.getvalue()


def _randomize(model: tnn.Module) -> None:
    """Non-zero biases everywhere (PyTorch zeroes attention biases)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("name", sorted(CASES))
def test_pytorch_export_of_layer_loads(name: str, rng: np.random.Generator) -> None:
    build, shape, dyn = CASES[name]
    torch.manual_seed(0)
    model = build()
    _randomize(model)
    model.eval()
    loaded = cro.load(io.BytesIO(_export(model, torch.zeros(3, *shape), dyn)))
    seqs = [shape[0], 7] if "seq" in dyn["input"].values() else [shape[0]]
    for batch in (3, 5):
        for seq in seqs:
            x = rng.standard_normal((batch, seq, *shape[1:])).astype(np.float32)
            with torch.no_grad():
                want = model(torch.from_numpy(x)).numpy()
            assert max_diff(run_cr(loaded, x), want) < TOL, (batch, seq)


def test_pytorch_embedding_with_padding_loads(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    model = Lookup().eval()
    loaded = cro.load(io.BytesIO(_export(model, torch.zeros(3, 4, dtype=torch.long), BATCH)))
    for batch in (3, 6):
        ids = rng.integers(0, 20, (batch, 4))
        ids[0, :2] = 0
        with torch.no_grad():
            want = model(torch.from_numpy(ids)).numpy()
        assert max_diff(run_cr(loaded, ids), want) < TOL


def test_loaded_attention_fine_tunes(rng: np.random.Generator) -> None:
    import chainrule as cr

    torch.manual_seed(0)
    loaded = cro.load(io.BytesIO(_export(Encoder().eval(), torch.zeros(3, 5, 8), BATCH)))
    x = cr.tensor(rng.standard_normal((4, 5, 8)).astype(np.float32))
    y = cr.tensor(rng.standard_normal((4, 5, 8)).astype(np.float32))
    opt = cr.optim.Adam(loaded.parameters(), lr=0.01)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = ((loaded(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
