"""RNN, LSTM, GRU and their cells against PyTorch with ported weights: outputs, final states and
every gradient, across layers, directions, layouts, bias and initial state; shapes and errors."""

from __future__ import annotations

import contextlib
import itertools
import math
import runpy
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, close, port

T, B, I, H = 5, 3, 4, 5

LAYERS = {
    "rnn_tanh": (lambda **kw: nn.RNN(**kw), "RNN", {}),
    "rnn_relu": (lambda **kw: nn.RNN(nonlinearity="relu", **kw), "RNN", {"nonlinearity": "relu"}),
    "lstm": (lambda **kw: nn.LSTM(**kw), "LSTM", {}),
    "gru": (lambda **kw: nn.GRU(**kw), "GRU", {}),
}
# (num_layers, bidirectional, batch_first, bias, with initial state): all 32 combinations
GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False], [False, True]))


def _ids(case):
    layers, bidi, bf, bias, init = case
    return (f"L{layers}" + ("-bi" if bidi else "") + ("-bf" if bf else "")
            + ("" if bias else "-nobias") + ("-h0" if init else ""))


def _pair(kind, **kw):
    torch = pytest.importorskip("torch")
    make, tname, textra = LAYERS[kind]
    tm = getattr(torch.nn, tname)(**kw, **textra)
    return make(**kw), tm


def _run_both(m, tm, x, states, dtype, rng):
    """Forward both, backward one random cotangent per result; return results and grads."""
    import torch

    lstm = isinstance(m, nn.LSTM)
    xs = cr.tensor(x.astype(dtype), requires_grad=True)
    txs = torch.tensor(x.astype(dtype), requires_grad=True)
    ss = [cr.tensor(s.astype(dtype), requires_grad=True) for s in states]
    tss = [torch.tensor(s.astype(dtype), requires_grad=True) for s in states]
    hx = (tuple(ss) if lstm else ss[0]) if states else None
    thx = (tuple(tss) if lstm else tss[0]) if states else None
    out, hn = m(xs, hx)
    tout, thn = tm(txs, thx)
    results = [out, *(hn if lstm else (hn,))]
    tresults = [tout, *(thn if lstm else (thn,))]
    loss, tloss = 0, 0
    for r, tr in zip(results, tresults, strict=True):
        w = rng.standard_normal(r.shape).astype(dtype)
        loss = loss + (r * cr.tensor(w)).sum()
        tloss = tloss + (tr * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    return results, tresults, (xs, *ss), (txs, *tss)


def _compare(m, tm, x, states, dtype, rng):
    results, tresults, ins, tins = _run_both(m, tm, x, states, dtype, rng)
    for k, (r, tr) in enumerate(zip(results, tresults, strict=True)):
        close(r, tr, dtype, ["output", "h_n", "c_n"][k])
    for k, (a, ta) in enumerate(zip(ins, tins, strict=True)):
        close(a.grad, ta.grad, dtype, ["input", "h_0", "c_0"][k] + " gradient")
    tparams = dict(tm.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    for name, p in m.named_parameters():
        close(p.grad, tparams[name].grad, dtype, f"gradient of {name}")
        assert p.grad._data.flags.c_contiguous, name


@pytest.mark.parametrize("case", GRID, ids=_ids)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_matches_torch_float64(kind, case, rng):
    layers, bidi, bf, bias, init = case
    m, tm = _pair(kind, input_size=I, hidden_size=H, num_layers=layers, bias=bias,
                  batch_first=bf, bidirectional=bidi)
    port(m, tm, np.float64)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    n_states = 2 if kind == "lstm" else 1
    shape = (layers * (2 if bidi else 1), B, H)
    states = [rng.standard_normal(shape) for _ in range(n_states)] if init else []
    _compare(m, tm, x, states, np.float64, rng)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("case", [(1, False, False, True, False), (2, True, True, True, True)],
                         ids=_ids)
def test_layer_matches_torch_float32(kind, case, rng):
    layers, bidi, bf, bias, init = case
    m, tm = _pair(kind, input_size=I, hidden_size=H, num_layers=layers, bias=bias,
                  batch_first=bf, bidirectional=bidi)
    port(m, tm, np.float32)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    shape = (layers * (2 if bidi else 1), B, H)
    states = [rng.standard_normal(shape) for _ in range(2 if kind == "lstm" else 1)] if init else []
    _compare(m, tm, x, states, np.float32, rng)
    for p in m.parameters():
        assert p.grad.dtype == np.float32


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("init", [False, True])
def test_unbatched_input_matches_torch(kind, init, rng):
    m, tm = _pair(kind, input_size=I, hidden_size=H, num_layers=2, bidirectional=True)
    port(m, tm, np.float64)
    states = [rng.standard_normal((4, H)) for _ in range(2 if kind == "lstm" else 1)]
    _compare(m, tm, rng.standard_normal((T, I)), states if init else [], np.float64, rng)
    out, _ = m(cr.tensor(rng.standard_normal((T, I))))
    assert out.shape == (T, 2 * H)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_long_sequence_and_batch_of_one(kind, rng):
    m, tm = _pair(kind, input_size=2, hidden_size=3)
    port(m, tm, np.float64)
    _compare(m, tm, rng.standard_normal((60, 1, 2)), [], np.float64, rng)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_shapes_state_dict_and_init(kind):
    torch = pytest.importorskip("torch")
    m, tm = _pair(kind, input_size=7, hidden_size=20, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert m.state_dict()[k].shape == tuple(v.shape), k
        assert m.state_dict()[k].dtype == np.float32
    bound = 1 / math.sqrt(20)
    for p in m.parameters():
        assert np.abs(p.cpu().numpy()).max() <= bound
    w = m.weight_hh_l1_reverse.cpu().numpy()
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.var() - bound**2 / 3) < 0.2 * bound**2 / 3
    x = cr.randn(6, 2, 7)
    out, hn = m(x)
    assert out.shape == (6, 2, 40)
    hn = hn[0] if kind == "lstm" else hn
    assert hn.shape == (4, 2, 20)
    assert torch.nn.LSTM(7, 20, bias=False).state_dict().keys() == nn.LSTM(
        7, 20, bias=False).state_dict().keys()


def test_dropout_between_layers_only_in_training(rng):
    torch = pytest.importorskip("torch")
    m, tm = _pair("lstm", input_size=I, hidden_size=H, num_layers=2, dropout=0.5)
    port(m, tm, np.float64)
    x = rng.standard_normal((T, B, I))
    m.eval()
    tm.eval()
    out_eval, (hn_eval, _) = m(cr.tensor(x))
    close(out_eval, tm(torch.tensor(x))[0], np.float64)
    m.train()
    out, (hn, _) = m(cr.tensor(x))
    assert not np.allclose(out.cpu().numpy(), out_eval.cpu().numpy())
    # the first layer's own final state is taken before dropout
    np.testing.assert_allclose(hn.cpu().numpy()[0], hn_eval.cpu().numpy()[0], rtol=1e-12)
    assert not np.allclose(hn.cpu().numpy()[1], hn_eval.cpu().numpy()[1])


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cells_match_torch(kind, batched, dtype, rng):
    torch = pytest.importorskip("torch")
    extra = {"nonlinearity": "relu"} if kind == "rnn_relu" else {}
    name = {"rnn_tanh": "RNNCell", "rnn_relu": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
    tm = getattr(torch.nn, name[kind])(I, H, **extra)
    m = port(getattr(nn, name[kind])(I, H, **extra), tm, dtype)
    assert list(m.state_dict()) == list(tm.state_dict())
    lead = (B,) if batched else ()
    arrs = [rng.standard_normal((*lead, I)).astype(dtype)]
    arrs += [rng.standard_normal((*lead, H)).astype(dtype) for _ in range(2 if kind == "lstm"
                                                                          else 1)]
    xs = [cr.tensor(a, requires_grad=True) for a in arrs]
    txs = [torch.tensor(a, requires_grad=True) for a in arrs]
    if kind == "lstm":
        res, tres = m(xs[0], (xs[1], xs[2])), tm(txs[0], (txs[1], txs[2]))
    else:
        res, tres = (m(xs[0], xs[1]),), (tm(txs[0], txs[1]),)
    loss, tloss = 0, 0
    for r, tr in zip(res, tres, strict=True):
        close(r, tr, dtype, "cell output")
        w = rng.standard_normal(r.shape).astype(dtype)
        loss, tloss = loss + (r * cr.tensor(w)).sum(), tloss + (tr * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    for a, ta in zip(xs, txs, strict=True):
        close(a.grad, ta.grad, dtype, "cell input gradient")
    tparams = dict(tm.named_parameters())
    for n, p in m.named_parameters():
        close(p.grad, tparams[n].grad, dtype, f"gradient of {n}")
    # no state given: zeros
    default = m(xs[0])
    default = default[0] if kind == "lstm" else default
    zeros = [np.zeros((*lead, H), dtype)] * (2 if kind == "lstm" else 1)
    given = m(xs[0], tuple(zeros)) if kind == "lstm" else m(xs[0], zeros[0])
    given = given[0] if kind == "lstm" else given
    np.testing.assert_array_equal(default.cpu().numpy(), given.cpu().numpy())


def test_cells_without_bias_have_no_bias_parameters():
    torch = pytest.importorskip("torch")
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        m, tm = getattr(nn, name)(3, 2, bias=False), getattr(torch.nn, name)(3, 2, bias=False)
        assert list(m.state_dict()) == list(tm.state_dict()) == ["weight_ih", "weight_hh"]
        assert m(cr.randn(4, 3)) is not None


def test_float32_stays_float32():
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = cr.randn(5, 2, 3, requires_grad=True)
    out, hn = m(x)
    assert out.dtype == np.float32
    assert hn.dtype == np.float32
    (out.sum() + hn.sum()).backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_errors_name_the_shapes():
    m = nn.LSTM(4, 3, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(5, 2, 6\).*input_size=4"):
        m(cr.zeros(5, 2, 6))
    with pytest.raises(ValueError, match=r"LSTM: expected a 2-D .* got shape \(4,\)"):
        m(cr.zeros(4))
    with pytest.raises(ValueError, match=r"h_0 of shape \(1, 2, 3\).*expected \(2, 2, 3\)"):
        m(cr.zeros(5, 2, 4), (cr.zeros(1, 2, 3), cr.zeros(2, 2, 3)))
    with pytest.raises(TypeError, match="tuple"):
        m(cr.zeros(5, 2, 4), cr.zeros(2, 2, 3))
    with pytest.raises(ValueError, match=r"GRU: hx of shape \(1, 2, 3\).*unbatched input of "
                       r"shape \(5, 4\) \(expected \(1, 3\)\)"):
        nn.GRU(4, 3)(cr.zeros(5, 4), cr.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"RNNCell: input of shape \(2, 5\)"):
        nn.RNNCell(4, 3)(cr.zeros(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: hidden state of shape \(2, 4\)"):
        nn.GRUCell(4, 3)(cr.zeros(2, 4), cr.zeros(2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="float"):
        nn.RNN(3, 4)(cr.zeros(2, 1, 3, dtype=np.float64))


def test_repr():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == (
        "LSTM(3, 4, num_layers=2, batch_first=True)")
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"


def test_gradient_clipping_example_explodes_without_and_trains_with():
    """examples/rnn_gradient_clipping.py: an IRNN over 150 steps diverges under plain SGD and
    trains with clip_grad_norm_ (seeded, so both outcomes are deterministic)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "rnn_gradient_clipping.py"
    train = runpy.run_path(str(path))["train"]
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        losses, norms = train(None, steps=20)
        assert len(losses) < 5
        assert not np.isfinite(losses[-1])
        assert norms[0] > 50  # far above the clipping threshold of 1
        losses, norms = train(1.0, steps=300)
    assert np.isfinite(losses).all()
    assert max(norms) > 100  # the raw gradients are as large as in the diverging run
    first, last = np.mean(losses[:10]), np.mean(losses[-50:])
    assert last < 0.4 * first
    assert last < 0.2  # well below the 1/3 of predicting the mean


def _one_blas_thread():
    """One BLAS thread (threadpoolctl, when installed): OpenBLAS threads on a busy machine can
    make the thin products of this test hundreds of times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)
