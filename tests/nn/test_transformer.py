"""Transformer layers, stacks and nn.Transformer against PyTorch with ported weights (float64,
eval mode): outputs, input gradients and every parameter gradient across batch_first,
norm_first, relu/gelu, causal and padding masks; parameter names; the causal mask helper;
unbatched input; and a tiny Transformer whose training loss decreases."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from reference import needs_no_cuda

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import close, port

torch = pytest.importorskip("torch")

F64 = np.float64
D, NHEAD, FF, T, S, B = 8, 2, 12, 5, 4, 3
WORST: dict[str, float] = {}
GRID = list(itertools.product([False, True], [False, True], ["relu", "gelu"]))


def _ids(case):
    bf, nf, act = case
    return ("bf" if bf else "sf") + ("-prenorm" if nf else "-postnorm") + f"-{act}"


def _torch(make):
    """Build a torch module quietly (PyTorch warns about its nested-tensor fast path)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


def _x(rng, n, batch_first, batched=True):
    if not batched:
        return rng.standard_normal((n, D))
    return rng.standard_normal((B, n, D) if batch_first else (n, B, D))


def _padding(n, as_float=False):
    """A key padding mask (True = padding), or its float form (PyTorch warns on mixed types)."""
    kpm = np.zeros((B, n), bool)
    kpm[0, -1] = kpm[2, -2:] = True
    return np.where(kpm, -np.inf, 0.0) if as_float else kpm


def _check(m, tm, inputs, rng, what, **masks):
    """Port tm into m, run both on inputs (ndarrays) and masks, compare output and grads."""
    port(m, tm, F64)
    m.eval()
    tm.eval()
    xs = [cr.tensor(a, requires_grad=True) for a in inputs]
    txs = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = m(*xs, **{k: (cr.tensor(v) if isinstance(v, np.ndarray) else v)
                    for k, v in masks.items()})
    tout = tm(*txs, **{k: (torch.tensor(v) if isinstance(v, np.ndarray) else v)
                       for k, v in masks.items()})
    pairs = [(f"{what} output", out, tout)]
    w = rng.standard_normal(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    pairs += [(f"{what} input grad", a.grad, ta.grad) for a, ta in zip(xs, txs, strict=True)]
    tparams = dict(tm.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    assert list(m.state_dict()) == list(tm.state_dict())
    pairs += [(f"{what} param grad", p.grad, tparams[n].grad) for n, p in m.named_parameters()]
    for name, got, want in pairs:
        g, wnt = got.cpu().numpy(), want.detach().cpu().numpy()
        WORST[name] = max(WORST.get(name, 0.0), float(np.abs(g - wnt).max()))
        close(got, want, F64, name)
    return out


def _layer_kw(bf, nf, act):
    return {"dim_feedforward": FF, "dropout": 0.0, "activation": act, "batch_first": bf,
            "norm_first": nf}


@pytest.mark.parametrize("case", GRID, ids=_ids)
def test_encoder_layer_matches_torch(case, rng):
    kw = _layer_kw(*case)
    m = nn.TransformerEncoderLayer(D, NHEAD, **kw)
    tm = _torch(lambda: torch.nn.TransformerEncoderLayer(D, NHEAD, **kw))
    x = _x(rng, T, case[0])
    causal = nn.Transformer.generate_square_subsequent_mask(T).cpu().numpy().astype(F64)
    _check(m, tm, [x], rng, "encoder layer", src_mask=causal,
           src_key_padding_mask=_padding(T, True), is_causal=True)
    causal = np.triu(np.ones((T, T), bool), 1)
    _check(m, tm, [x], rng, "encoder layer", src_mask=causal, src_key_padding_mask=_padding(T))
    _check(m, tm, [x], rng, "encoder layer")


@pytest.mark.parametrize("case", GRID, ids=_ids)
def test_decoder_layer_matches_torch(case, rng):
    kw = _layer_kw(*case)
    m = nn.TransformerDecoderLayer(D, NHEAD, **kw)
    tm = _torch(lambda: torch.nn.TransformerDecoderLayer(D, NHEAD, **kw))
    tgt, mem = _x(rng, T, case[0]), _x(rng, S, case[0])
    causal = np.triu(np.full((T, T), -np.inf), 1)
    _check(m, tm, [tgt, mem], rng, "decoder layer", tgt_mask=causal, tgt_is_causal=True,
           tgt_key_padding_mask=_padding(T, True), memory_key_padding_mask=_padding(S, True),
           memory_mask=rng.standard_normal((T, S)))


@pytest.mark.parametrize("case", GRID, ids=_ids)
def test_transformer_matches_torch(case, rng):
    bf, nf, act = case
    kw = {"d_model": D, "nhead": NHEAD, "num_encoder_layers": 2, "num_decoder_layers": 2,
          **_layer_kw(bf, nf, act)}
    m = nn.Transformer(**kw)
    tm = _torch(lambda: torch.nn.Transformer(**kw))
    src, tgt = _x(rng, S, bf), _x(rng, T, bf)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=F64).cpu().numpy()
    _check(m, tm, [src, tgt], rng, "transformer", tgt_mask=tgt_mask,
           src_key_padding_mask=_padding(S), tgt_key_padding_mask=_padding(T, True),
           memory_key_padding_mask=_padding(S))


def test_stacks_with_norm_match_torch(rng):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0), 3, nn.LayerNorm(D))
    tenc = _torch(lambda: torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0), 3, torch.nn.LayerNorm(D)))
    x = _x(rng, T, False)
    causal = np.triu(np.full((T, T), -np.inf), 1)
    _check(enc, tenc, [x], rng, "encoder stack", mask=causal,
           src_key_padding_mask=_padding(T, True))
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NHEAD, FF, 0.0, "gelu"), 2)
    tdec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, NHEAD, FF, 0.0, "gelu"),
                                       2)
    _check(dec, tdec, [x, _x(rng, S, False)], rng, "decoder stack", tgt_mask=causal)


def test_unbatched_bias_free_and_callable_activation_match_torch(rng):
    kw = {"dim_feedforward": FF, "dropout": 0.0, "bias": False}
    m = nn.TransformerEncoderLayer(D, NHEAD, activation=F.gelu, **kw)
    tm = torch.nn.TransformerEncoderLayer(D, NHEAD, activation=torch.nn.functional.gelu, **kw)
    out = _check(m, tm, [_x(rng, T, False, batched=False)], rng, "unbatched encoder layer",
                 src_mask=np.triu(np.ones((T, T), bool), 1))
    assert out.shape == (T, D)
    m = nn.TransformerDecoderLayer(D, NHEAD, activation=nn.GELU(), **kw)
    tm = torch.nn.TransformerDecoderLayer(D, NHEAD, activation=torch.nn.GELU(), **kw)
    _check(m, tm, [_x(rng, T, False, batched=False), _x(rng, S, False, batched=False)], rng,
           "unbatched decoder layer")


def test_fully_padded_sequence_gives_finite_outputs(rng):
    m = nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0, dtype=F64)
    tm = torch.nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0)
    kpm = np.zeros((B, T), bool)
    kpm[1] = True
    out = _check(m, tm, [_x(rng, T, False)], rng, "fully padded", src_key_padding_mask=kpm)
    assert np.isfinite(out.cpu().numpy()).all()


@pytest.mark.parametrize("padding", ["right", "float", "not_left_aligned", "with_mask"])
def test_encoder_inference_zeros_padding_as_torch(padding, rng):
    """PyTorch's inference fast path (nested tensors) returns zeros at padded positions."""
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0, batch_first=True),
                                2, nn.LayerNorm(D))
    tenc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(D, NHEAD, FF, 0.0, batch_first=True), 2,
        torch.nn.LayerNorm(D))
    port(enc, tenc, F64).eval()
    tenc.eval()
    x, kpm = _x(rng, T, True), _padding(T, padding in ("float", "with_mask"))
    mask = np.triu(np.full((T, T), -np.inf), 1) if padding == "with_mask" else None
    if padding == "not_left_aligned":
        kpm[1, 0] = True
    with cr.no_grad(), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "nested tensors are a prototype"
        out = enc(x, mask=mask, src_key_padding_mask=kpm)
        want = tenc(torch.tensor(x), mask=None if mask is None else torch.tensor(mask),
                    src_key_padding_mask=torch.tensor(kpm))
    close(out, want, F64, "encoder inference output")
    if padding in ("right", "float"):  # padded rows are LayerNorm(0) = the norm's bias
        np.testing.assert_array_equal(out.cpu().numpy()[2, -2:], np.zeros((2, D)))


def test_generate_square_subsequent_mask_as_torch():
    got = nn.Transformer.generate_square_subsequent_mask(4)
    want = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.cpu().numpy(), want.cpu().numpy())
    m = nn.Transformer(D, NHEAD, 1, 1, FF)
    np.testing.assert_array_equal(m.generate_square_subsequent_mask(3, dtype=F64).cpu().numpy(),
                                  np.triu(np.full((3, 3), -np.inf), 1))


def test_init_and_names_as_torch():
    m = nn.Transformer(D, NHEAD, 2, 1, FF)
    tm = _torch(lambda: torch.nn.Transformer(D, NHEAD, 2, 1, FF))
    assert list(m.state_dict()) == list(tm.state_dict())
    layers = m.encoder.layers
    assert len(layers) == 2
    assert layers[0] is not layers[1]
    for name, p in m.named_parameters():
        if p.ndim > 1:  # xavier_uniform_: bound sqrt(6 / (fan_in + fan_out))
            bound = np.sqrt(6.0 / sum(p.shape[:2]))
            assert np.abs(p.cpu().numpy()).max() <= bound, name
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NHEAD, FF), 2)
    a, b = (lyr.linear1.weight.cpu().numpy() for lyr in enc.layers)
    np.testing.assert_array_equal(a, b)  # clones start equal, as PyTorch's _get_clones
    assert not np.shares_memory(a, b)


@needs_no_cuda
def test_without_cuda():
    with pytest.raises(RuntimeError, match="device"):
        nn.Transformer(D, NHEAD, 1, 1, FF, device="cuda:0")


def test_errors():
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(D, NHEAD, activation="tanh")
    m = nn.Transformer(D, NHEAD, 1, 1, FF)
    with pytest.raises(ValueError, match="batch number"):
        m(np.zeros((S, 2, D), np.float32), np.zeros((T, 3, D), np.float32))
    with pytest.raises(ValueError, match="d_model"):
        m(np.zeros((S, 2, D + 1), np.float32), np.zeros((T, 2, D + 1), np.float32))


def test_tiny_transformer_learns_to_copy(rng):
    """A tiny encoder-decoder learns to copy a sequence: the training loss falls by half."""
    cr.manual_seed(0)
    vocab, d = 6, 16
    emb = nn.Embedding(vocab, d)
    model = nn.Transformer(d, 2, 1, 1, 32, dropout=0.0, batch_first=True)
    head = nn.Linear(d, vocab)
    params = [*emb.parameters(), *model.parameters(), *head.parameters()]
    opt = cr.optim.Adam(params, lr=3e-3)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    seq = rng.integers(1, vocab, (16, 5))
    tgt_in = np.concatenate([np.zeros((16, 1), np.int64), seq[:, :-1]], axis=1)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        out = head(model(emb(cr.tensor(seq)), emb(cr.tensor(tgt_in)), tgt_mask=mask))
        loss = F.cross_entropy(cr.reshape(out, (-1, vocab)), cr.tensor(seq.reshape(-1)))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses


def test_report_worst_differences():
    """Print the worst differences seen above (run with -s to see them)."""
    for name, d in sorted(WORST.items()):
        print(f"{name:32s} {d:.2e}")
