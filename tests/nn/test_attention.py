"""scaled_dot_product_attention and MultiheadAttention against PyTorch with ported weights:
outputs, attention weights, input gradients and every parameter gradient (float64), across
layouts, masks (bool, float, 2-D, 3-D, key padding, causal), options and unbatched input; fully
masked rows as PyTorch; exact zero gradients at masked positions; gradcheck; errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from reference import needs_no_cuda

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import close, port

torch = pytest.importorskip("torch")

F64 = np.float64
L, S, N, E, H = 4, 5, 2, 6, 3
WORST: dict[str, float] = {}


def _diff(name: str, got, want) -> None:
    """Record the worst absolute difference seen, for the report, then assert closeness."""
    g = got.cpu().numpy() if isinstance(got, cr.Tensor) else np.asarray(got)
    w = want.detach().cpu().numpy()
    if g.shape == w.shape and g.size:
        both = np.isfinite(g) & np.isfinite(w)
        WORST[name] = max(WORST.get(name, 0.0), float(np.abs(g - w)[both].max(initial=0.0)))
    close(got, want, F64, name)


def _pair(x: np.ndarray, requires_grad: bool = True):
    return (cr.tensor(x, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def _backward_both(outs, touts, rng) -> None:
    loss, tloss = 0, 0
    for o, to in zip(outs, touts, strict=True):
        w = rng.standard_normal(o.shape)
        loss = loss + (o * cr.tensor(w)).sum()
        tloss = tloss + (to * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()


def _masks(rng, kind: str, batched: bool = True):
    """(attn_mask, key_padding_mask) as ndarrays in MultiheadAttention's convention."""
    am = kpm = None
    if kind in ("causal", "both"):
        am = np.triu(np.full((L, S), -np.inf), 1)
    if kind == "bool2d":
        am = rng.random((L, S)) < 0.4
        am[:, 0] = False  # no fully masked row
    if kind == "float3d":
        am = rng.standard_normal((N * H if batched else H, L, S))
    if kind in ("padding", "both"):
        kpm = np.zeros((N, S) if batched else (S,), bool)
        kpm[..., -2:] = True
    if kind == "both":  # PyTorch warns when the two masks' types differ
        kpm = np.where(kpm, -np.inf, 0.0)
    return am, kpm


def _t_or_none(x, lib):
    return None if x is None else (cr.tensor(x) if lib == "cr" else torch.tensor(x))


# ----- scaled_dot_product_attention -----
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal", "scale", "bool_full_row"])
def test_sdpa_matches_torch(kind, rng):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, L, E), (2, 3, S, E), (2, 3, S, 5)))
    kw: dict = {}
    if kind in ("bool", "bool_full_row"):
        m = rng.random((L, S)) < 0.6
        m[:, 1] = True
        if kind == "bool_full_row":
            m[2] = False
        kw["attn_mask"] = m
    elif kind == "float":
        kw["attn_mask"] = rng.standard_normal((3, L, S))
    elif kind == "causal":
        kw["is_causal"] = True
    elif kind == "scale":
        kw["scale"] = 0.37
    (cq, tq), (ck, tk), (cv, tv) = _pair(q), _pair(k), _pair(v)
    out = F.scaled_dot_product_attention(cq, ck, cv, **kw)
    tkw = {k_: (torch.tensor(v_) if k_ == "attn_mask" else v_) for k_, v_ in kw.items()}
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    _diff("sdpa output", out, tout)
    _backward_both([out], [tout], rng)
    for name, a, ta in (("q", cq, tq), ("k", ck, tk), ("v", cv, tv)):
        _diff(f"sdpa grad {name}", a.grad, ta.grad)
        assert np.isfinite(a.grad.cpu().numpy()).all()
    if kind == "bool_full_row":
        assert (out.cpu().numpy()[:, :, 2] == 0).all()
        assert (cq.grad.cpu().numpy()[:, :, 2] == 0).all()


def test_sdpa_grouped_query_heads(rng):
    q, k, v = rng.standard_normal((2, 4, L, E)), rng.standard_normal((2, 2, S, E)), \
        rng.standard_normal((2, 2, S, E))
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    want = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), enable_gqa=True)
    _diff("sdpa gqa output", out, want)


def test_sdpa_masked_keys_get_exactly_zero_gradient(rng):
    q, k, v = (cr.tensor(rng.standard_normal((2, n, E)), requires_grad=True) for n in (L, S, S))
    keep = np.ones((L, S), bool)
    keep[:, 3] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    (out * cr.tensor(rng.standard_normal(out.shape))).sum().backward()
    assert (k.grad.cpu().numpy()[:, 3] == 0).all()
    assert (v.grad.cpu().numpy()[:, 3] == 0).all()
    assert (k.grad.cpu().numpy()[:, :3] != 0).all()


def test_sdpa_gradcheck_with_mask(rng):
    keep = rng.random((3, 4)) < 0.7
    keep[:, 0] = True
    keep[1] = False  # a fully masked row: zeros, zero gradient

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep)

    assert cr.gradcheck(f, [rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 4, 2)),
                            rng.standard_normal((2, 4, 3))])


def test_multihead_gradcheck(rng):
    m = nn.MultiheadAttention(4, 2, dtype=F64, batch_first=True)
    kpm = np.array([[False, False, True], [False, True, True]])

    def f(x):
        return m(x, x, x, key_padding_mask=kpm, attn_mask=np.triu(np.full((3, 3), -np.inf), 1),
                 need_weights=False)[0]

    assert cr.gradcheck(f, [rng.standard_normal((2, 3, 4))])


def test_sdpa_errors():
    q = np.zeros((2, L, E))
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((L, L), bool), is_causal=True)
    with pytest.raises(ValueError, match="do not match"):
        F.scaled_dot_product_attention(q, np.zeros((2, S, E + 1)), np.zeros((2, S, E)))
    with pytest.raises(TypeError, match="bool and floating"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((L, L), np.int64))


# ----- MultiheadAttention -----
def _mha_pair(**kw):
    m = nn.MultiheadAttention(E, H, **kw)
    tm = torch.nn.MultiheadAttention(E, H, **kw)
    return port(m, tm, F64).eval(), tm.eval()


def _run_mha(m, tm, q, k, v, rng, self_attention=False, **kw):
    """Forward both (masks given as ndarrays in kw), backward; compare everything."""
    (cq, tq) = _pair(q)
    (ck, tk), (cv, tv) = ((cq, tq), (cq, tq)) if self_attention else (_pair(k), _pair(v))
    ckw = {n: (_t_or_none(x, "cr") if isinstance(x, np.ndarray) else x) for n, x in kw.items()}
    tkw = {n: (_t_or_none(x, "torch") if isinstance(x, np.ndarray) else x) for n, x in kw.items()}
    out, w = m(cq, ck, cv, **ckw)
    tout, tw = tm(tq, tk, tv, **tkw)
    _diff("mha output", out, tout)
    if tw is None:
        assert w is None
        outs, touts = [out], [tout]
    else:
        _diff("mha weights", w, tw)
        outs, touts = [out, w], [tout, tw]
    _backward_both(outs, touts, rng)
    pairs = [("q", cq, tq)] if self_attention else [("q", cq, tq), ("k", ck, tk), ("v", cv, tv)]
    for name, a, ta in pairs:
        _diff(f"mha grad {name}", a.grad, ta.grad)
    tparams = dict(tm.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    for name, p in m.named_parameters():
        _diff(f"mha grad {name}", p.grad, tparams[name].grad)
    return out, w


def _inputs(rng, batch_first, kdim=E, vdim=E, batched=True):
    def shape(n, d):
        if not batched:
            return (n, d)
        return (N, n, d) if batch_first else (n, N, d)

    return (rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, kdim)),
            rng.standard_normal(shape(S, vdim)))


MASKS = ["none", "causal", "bool2d", "float3d", "padding", "both"]


@pytest.mark.parametrize(("batch_first", "masks", "need_weights"),
                         list(itertools.product([False, True], MASKS, [True, False])))
def test_mha_matches_torch(batch_first, masks, need_weights, rng):
    m, tm = _mha_pair(batch_first=batch_first)
    q, k, v = _inputs(rng, batch_first)
    am, kpm = _masks(rng, masks)
    _run_mha(m, tm, q, k, v, rng, attn_mask=am, key_padding_mask=kpm, need_weights=need_weights)


@pytest.mark.parametrize("masks", ["none", "causal", "padding"])
def test_mha_self_attention_matches_torch(masks, rng):
    m, tm = _mha_pair(batch_first=True)
    x = rng.standard_normal((N, L, E))
    am, kpm = _masks(rng, masks)
    if am is not None:
        am = np.triu(np.full((L, L), -np.inf), 1)
    if kpm is not None:
        kpm = kpm[:, :L]
    _run_mha(m, tm, x, x, x, rng, self_attention=True, attn_mask=am, key_padding_mask=kpm,
             is_causal=am is not None, need_weights=False)


@pytest.mark.parametrize("options", [
    {"kdim": 3, "vdim": 5}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"bias": False},
    {"add_bias_kv": True, "add_zero_attn": True, "kdim": 4},
])
@pytest.mark.parametrize("masks", ["none", "both"])
def test_mha_options_match_torch(options, masks, rng):
    m, tm = _mha_pair(**options)
    q, k, v = _inputs(rng, False, options.get("kdim", E), options.get("vdim", E))
    am, kpm = _masks(rng, masks)
    _run_mha(m, tm, q, k, v, rng, attn_mask=am, key_padding_mask=kpm)


@pytest.mark.parametrize("masks", ["none", "causal", "float3d", "padding"])
def test_mha_unbatched_matches_torch(masks, rng):
    m, tm = _mha_pair()
    q, k, v = _inputs(rng, False, batched=False)
    am, kpm = _masks(rng, masks, batched=False)
    out, w = _run_mha(m, tm, q, k, v, rng, attn_mask=am, key_padding_mask=kpm,
                      average_attn_weights=False)
    assert out.shape == (L, E)
    assert w.shape == (H, L, S)


def test_mha_fully_masked_rows_match_torch(rng):
    m, tm = _mha_pair()
    q, k, v = _inputs(rng, False)
    kpm = np.zeros((N, S), bool)
    kpm[0] = True  # every key of batch 0 masked
    out, _ = _run_mha(m, tm, q, k, v, rng, key_padding_mask=kpm, need_weights=False)
    assert np.isfinite(out.cpu().numpy()).all()
    # with need_weights PyTorch's softmax gives NaN for those rows: the same NaN here
    out, w = m(cr.tensor(q), cr.tensor(k), cr.tensor(v), key_padding_mask=cr.tensor(kpm))
    tout, tw = tm(*(torch.tensor(a) for a in (q, k, v)), key_padding_mask=torch.tensor(kpm))
    np.testing.assert_array_equal(np.isnan(out.cpu().numpy()), np.isnan(tout.detach().numpy()))
    np.testing.assert_array_equal(np.isnan(w.cpu().numpy()), np.isnan(tw.detach().numpy()))
    assert np.isnan(w.cpu().numpy()[0]).all()
    assert np.isfinite(w.cpu().numpy()[1]).all()


def test_mha_padded_keys_get_exactly_zero_gradient(rng):
    m = nn.MultiheadAttention(E, H, dtype=F64)
    q, k, v = (cr.tensor(a, requires_grad=True) for a in _inputs(rng, False))
    _, kpm = _masks(rng, "padding")
    out, w = m(q, k, v, key_padding_mask=kpm)
    assert (w.cpu().numpy()[..., -2:] == 0).all()
    (out * cr.tensor(rng.standard_normal(out.shape))).sum().backward()
    assert (k.grad.cpu().numpy()[-2:] == 0).all()
    assert (v.grad.cpu().numpy()[-2:] == 0).all()
    assert np.isfinite(q.grad.cpu().numpy()).all()


def test_mha_parameters_and_init_as_torch():
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=4)
    tm = torch.nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=4)
    assert list(m.state_dict()) == list(tm.state_dict())
    for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters(), strict=True):
        assert n == tn
        assert p.shape == tuple(tp.shape)
        assert p.dtype == np.float32
    assert (m.in_proj_bias.cpu().numpy() == 0).all()
    assert (m.out_proj.bias.cpu().numpy() == 0).all()
    bound = np.sqrt(6 / (8 + 8))
    assert 0 < np.abs(m.q_proj_weight.cpu().numpy()).max() <= bound
    assert m.bias_k.cpu().numpy().std() > 0
    plain = nn.MultiheadAttention(8, 2)
    assert plain.bias_k is None
    assert plain.in_proj_weight.shape == (24, 8)


def test_mha_dtype_float32_kept(rng):
    m = nn.MultiheadAttention(E, H)
    x = cr.tensor(rng.standard_normal((L, N, E)).astype(np.float32))
    out, w = m(x, x, x, attn_mask=np.triu(np.full((L, L), -np.inf), 1))
    assert out.dtype == np.float32
    assert w.dtype == np.float32


def test_mha_dropout_in_training_changes_weights(rng):
    m = nn.MultiheadAttention(E, H, dropout=0.5, dtype=F64)
    x = cr.tensor(rng.standard_normal((L, N, E)))
    _, w = m(x, x, x, average_attn_weights=False)
    assert (w.cpu().numpy() == 0).any()
    m.eval()
    _, w = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.cpu().numpy().sum(-1), 1.0)


@needs_no_cuda
def test_mha_without_cuda():
    with pytest.raises(RuntimeError, match="device"):
        nn.MultiheadAttention(6, 2, device="cuda")


def test_mha_errors(rng):
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    m = nn.MultiheadAttention(E, H, dtype=F64)
    q, k, v = _inputs(rng, False)
    with pytest.raises(ValueError, match="2-D attn_mask"):
        m(q, k, v, attn_mask=np.zeros((L, L)))
    with pytest.raises(ValueError, match="3-D attn_mask"):
        m(q, k, v, attn_mask=np.zeros((H, L, S)))
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(q, k, v, key_padding_mask=np.zeros((N, L), bool))
    with pytest.raises(ValueError, match="is_causal"):
        m(q, k, v, is_causal=True)
    with pytest.raises(ValueError, match="embed_dim"):
        m(q[..., :4], k, v)


def test_report_worst_differences():
    """Print the worst differences seen above (run with -s to see them)."""
    for name, d in sorted(WORST.items()):
        print(f"{name:32s} {d:.2e}")
