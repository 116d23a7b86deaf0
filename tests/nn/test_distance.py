"""nn/distance.py against PyTorch: values and gradients of every input over a grid of arguments
and reductions (zero vectors and clamped variances included), gradcheck, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close

REDUCTIONS = ["mean", "sum", "none"]


def _run(lib, call, arrays, grad):
    """call(F, *tensors) and the gradients of sum(w * out) for the inputs indexed by grad."""
    if lib == "torch":
        import torch

        ts = [torch.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
        out = call(torch.nn.functional, *ts)
        w = torch.tensor(np.random.default_rng(1).standard_normal(out.shape)).to(out.dtype)
    else:
        ts = [cr.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
        out = call(F, *ts)
        w = cr.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype))
    (out * w).sum().backward()
    return out, [ts[i].grad for i in grad]


def _compare(call, arrays, grad, dtype):
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    got, ggot = _run("cr", call, arrays, grad)
    want, gwant = _run("torch", call, arrays, grad)
    close(got, want, dtype, "value")
    for i, g, t in zip(grad, ggot, gwant, strict=True):
        close(g, t, dtype, f"gradient of input {i}")


def _cases(rng):
    """name -> (call taking (F, *tensors), input arrays, indices of the inputs to differentiate)."""
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    x[0] = 0.0  # a zero vector: norms 0, gradients masked as PyTorch's
    x3, y3 = rng.standard_normal((2, 4, 3)), rng.standard_normal((1, 4, 3))
    logp = np.log(rng.dirichlet(np.ones(4), 5))
    q = rng.dirichlet(np.ones(4), 5)
    q[1, 2] = 0.0
    q[1] /= q[1].sum()
    a, p, n = rng.standard_normal((3, 6, 4))
    s1, s2 = rng.standard_normal(7), rng.standard_normal(7)
    sign = np.where(rng.random(7) < 0.5, -1.0, 1.0)
    sign5 = np.where(rng.random(5) < 0.5, -1.0, 1.0)
    counts = rng.poisson(3.0, (4, 5)).astype(np.float64)
    rate = rng.random((4, 5)) + 0.1
    var = rng.random((4, 5)) + 0.05
    var[0, :2] = [1e-8, 0.0]  # clamped to eps
    cases = {}
    for dim in (1, 0, -1):
        for eps in (1e-8, 0.5):
            cases[f"cosine_similarity_{dim}_{eps}"] = (
                lambda f, a, b, d=dim, e=eps: f.cosine_similarity(a, b, d, e), [x, y], (0, 1))
    cases["cosine_similarity_broadcast"] = (
        lambda f, a, b: f.cosine_similarity(a, b, dim=1), [x3, y3], (0, 1))
    for pn in (2.0, 1.0, 3.0, 0.5, float("inf")):
        for kd in (False, True):
            cases[f"pairwise_distance_{pn}_{kd}"] = (
                lambda f, a, b, pn=pn, kd=kd: f.pairwise_distance(a, b, pn, keepdim=kd),
                [x, y], (0, 1))
    cases["pairwise_distance_eps0_equal"] = (
        lambda f, a, b: f.pairwise_distance(a, b, eps=0.0), [x, np.where(x == 0, 0, y)], (0, 1))
    cases["pairwise_distance_1d"] = (lambda f, a, b: f.pairwise_distance(a, b), [s1, s2], (0, 1))
    for r in [*REDUCTIONS, "batchmean"]:
        cases[f"kl_div_{r}"] = (lambda f, a, b, r=r: f.kl_div(a, b, reduction=r), [logp, q],
                                (0,))
        cases[f"kl_div_log_target_{r}"] = (
            lambda f, a, b, r=r: f.kl_div(a, b, reduction=r, log_target=True),
            [logp, np.log(np.where(q == 0, 0.1, q))], (0, 1))
    for r in REDUCTIONS:
        for margin, pn, swap in [(1.0, 2, False), (0.5, 1, True), (2.0, 3, False),
                                 (1.0, 2, True)]:
            cases[f"triplet_{margin}_{pn}_{swap}_{r}"] = (
                lambda f, a, b, c, m=margin, pn=pn, s=swap, r=r: f.triplet_margin_loss(
                    a, b, c, margin=m, p=pn, swap=s, reduction=r), [a, p, n], (0, 1, 2))
        for margin in (0.0, 0.5):
            cases[f"margin_ranking_{margin}_{r}"] = (
                lambda f, a, b, t, m=margin, r=r: f.margin_ranking_loss(a, b, t, m,
                                                                         reduction=r),
                [s1, s2, sign], (0, 1))
            cases[f"cosine_embedding_{margin}_{r}"] = (
                lambda f, a, b, t, m=margin, r=r: f.cosine_embedding_loss(a, b, t, m,
                                                                           reduction=r),
                [x[1:], y[1:], sign5[1:]], (0, 1))
            cases[f"hinge_embedding_{margin}_{r}"] = (
                lambda f, a, t, m=margin, r=r: f.hinge_embedding_loss(a, t, m, reduction=r),
                [3 * s1, sign], (0,))
        cases[f"cosine_embedding_1d_{r}"] = (
            lambda f, a, b, t, r=r: f.cosine_embedding_loss(a, b, t, reduction=r),
            [x[1], y[1], np.array(-1.0)], (0, 1))
        cases[f"soft_margin_{r}"] = (
            lambda f, a, t, r=r: f.soft_margin_loss(a, t, reduction=r), [3 * s1, sign], (0,))
        for log_input, full in [(True, False), (True, True), (False, False), (False, True)]:
            inp = np.log(rate) if log_input else rate
            cases[f"poisson_{log_input}_{full}_{r}"] = (
                lambda f, a, t, li=log_input, fu=full, r=r: f.poisson_nll_loss(
                    a, t, li, fu, reduction=r), [inp, counts], (0,))
        for full in (False, True):
            cases[f"gaussian_{full}_{r}"] = (
                lambda f, a, t, v, fu=full, r=r: f.gaussian_nll_loss(a, t, v, fu, reduction=r),
                [x[:4], y[:4], var[:, :4]], (0, 1, 2))
        cases[f"gaussian_homoscedastic_{r}"] = (
            lambda f, a, t, v, r=r: f.gaussian_nll_loss(a, t, v, reduction=r),
            [x[:4], y[:4], var[:, 0]], (0, 1, 2))
        cases[f"gaussian_shared_axis_{r}"] = (
            lambda f, a, t, v, r=r: f.gaussian_nll_loss(a, t, v, eps=0.1, reduction=r),
            [x[:4], y[:4], var[:, :1]], (0, 1, 2))
    cases["gaussian_float_var"] = (lambda f, a, t: f.gaussian_nll_loss(a, t, 0.5), [x, y], (0, 1))
    return cases


CASE_NAMES = list(_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_torch(name, dtype, rng):
    pytest.importorskip("torch")
    call, arrays, grad = _cases(rng)[name]
    if name.startswith("kl_div") and "batchmean" not in name and name.endswith("mean"):
        with pytest.warns(UserWarning, match="batchmean"):
            _compare(call, arrays, grad, dtype)
    else:
        _compare(call, arrays, grad, dtype)


MODULES = [
    ("CosineSimilarity", (0,), 2), ("PairwiseDistance", (1.0,), 2),
    ("KLDivLoss", ("batchmean",), 2), ("TripletMarginLoss", (0.7, 1.0), 3),
    ("MarginRankingLoss", (0.3,), 3), ("CosineEmbeddingLoss", (0.2,), 3),
    ("HingeEmbeddingLoss", (0.5,), 2), ("SoftMarginLoss", (), 2),
    ("PoissonNLLLoss", (True, True), 2), ("GaussianNLLLoss", (), 3),
]


@pytest.mark.parametrize(("name", "args", "n_in"), MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, args, n_in, rng):
    torch = pytest.importorskip("torch")
    x, y, z = rng.standard_normal((3, 5, 4))
    sign = np.where(rng.random(5) < 0.5, -1.0, 1.0)
    kwargs: dict = {}
    if name == "KLDivLoss":
        kwargs, args = {"reduction": args[0]}, ()
        y = np.exp(y) / np.exp(y).sum(1, keepdims=True)
    elif name == "GaussianNLLLoss":
        z = np.abs(z) + 0.1
    elif name in ("MarginRankingLoss",):
        x, y, z = x[:, 0], y[:, 0], sign
    elif name == "CosineEmbeddingLoss":
        z = sign
    elif name in ("HingeEmbeddingLoss", "SoftMarginLoss"):
        y = np.where(y > 0, 1.0, -1.0)
    elif name == "PoissonNLLLoss":
        y = np.abs(np.round(3 * y))
    arrays = [x, y, z][:n_in]
    m, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    got = m(*[cr.tensor(a) for a in arrays])
    want = tm(*[torch.tensor(a) for a in arrays])
    close(got, want, np.float64, name)


@pytest.mark.parametrize("name", ["cosine_similarity_1_1e-08", "pairwise_distance_3.0_False",
                                  "triplet_0.5_1_True_mean", "cosine_embedding_0.5_sum",
                                  "kl_div_log_target_batchmean", "gaussian_True_mean",
                                  "poisson_False_True_sum"])
def test_gradcheck(name, rng):
    call, arrays, grad = _cases(rng)[name]
    arrays = [a + 0.1 if i == 0 and "cosine" in name else a for i, a in enumerate(arrays)]
    if "gaussian" in name:  # finite differences would step var below 0 (an error)
        grad = (0, 1)

    def f(*xs):
        full = list(arrays)
        for i, v in zip(grad, xs, strict=True):
            full[i] = v
        return call(F, *full)

    assert cr.gradcheck(f, [arrays[i] for i in grad])


@pytest.mark.parametrize("name", ["cosine_similarity_1_1e-08", "pairwise_distance_2.0_False",
                                  "kl_div_sum", "triplet_1.0_2_True_mean",
                                  "margin_ranking_0.5_mean", "cosine_embedding_0.0_none",
                                  "hinge_embedding_0.5_sum", "soft_margin_mean",
                                  "poisson_True_True_mean", "gaussian_homoscedastic_mean"])
def test_float32_stays_float32(name, rng):
    call, arrays, grad = _cases(rng)[name]
    ts = [cr.tensor(a.astype(np.float32), requires_grad=i in grad)
          for i, a in enumerate(arrays)]
    out = call(F, *ts)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(ts[i].grad.dtype == np.float32 for i in grad)


def test_one_hot_matches_torch(rng):
    torch = pytest.importorskip("torch")
    idx = rng.integers(0, 5, (3, 4))
    for k in (-1, 5, 8):
        got = F.one_hot(cr.tensor(idx), k)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.cpu().numpy(),
                                      torch.nn.functional.one_hot(torch.tensor(idx), k).numpy())
    assert F.one_hot(cr.tensor(np.array(2)), 3).tolist() == [0, 0, 1]


@pytest.mark.parametrize(("call", "match"), [
    (lambda: F.one_hot(cr.tensor(np.array([1, 5])), 3), r"one_hot.*num_classes \(3\).*5"),
    (lambda: F.one_hot(cr.tensor(np.array([-1, 0]))), r"one_hot.*non-negative.*-1"),
    (lambda: F.one_hot(cr.tensor(np.array([0.5]))), r"one_hot.*integer.*float64"),
    (lambda: F.one_hot(cr.tensor(np.zeros(0, np.int64))), r"one_hot.*empty"),
    (lambda: F.kl_div(cr.tensor(np.zeros(3)), np.zeros(3), reduction="avg"),
     r"kl_div.*'avg'"),
    (lambda: F.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                   margin=0.0), r"triplet_margin_loss.*margin.*0.0"),
    (lambda: F.triplet_margin_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)),
     r"triplet_margin_loss.*\(2, 3\), \(2, 3\) and \(3,\)"),
    (lambda: F.margin_ranking_loss(np.zeros(3), np.zeros(3), np.zeros((3, 1))),
     r"margin_ranking_loss.*\(3, 1\)"),
    (lambda: F.cosine_embedding_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(())),
     r"cosine_embedding_loss.*0-d target expects 1-d.*\(2, 3\)"),
    (lambda: F.cosine_similarity(np.zeros((2, 3)), np.zeros((4, 3))),
     r"cosine_similarity.*\(2, 3\), \(4, 3\)"),
    (lambda: F.pairwise_distance(np.zeros((2, 3)), np.zeros((2, 4))),
     r"pairwise_distance.*\(2, 3\), \(2, 4\)"),
    (lambda: F.gaussian_nll_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((3, 3))),
     r"gaussian_nll_loss.*var of shape \(3, 3\).*\(2, 3\)"),
    (lambda: F.gaussian_nll_loss(np.zeros((2, 3)), np.zeros((2, 3)), -1.0),
     r"gaussian_nll_loss.*negative.*-1.0"),
    (lambda: F.poisson_nll_loss(np.zeros(3), np.zeros(3), reduction="avg"),
     r"poisson_nll_loss.*'avg'"),
    (lambda: nn.TripletMarginLoss(margin=-1.0), r"TripletMarginLoss.*-1.0"),
    (lambda: nn.SoftMarginLoss(reduction="x"), r"SoftMarginLoss.*'x'"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_legacy_size_average_and_reduce_flags(rng):
    torch = pytest.importorskip("torch")
    x, t = rng.standard_normal(6), np.where(rng.random(6) < 0.5, -1.0, 1.0)
    for sa, red in [(False, None), (None, False), (True, True)]:
        with pytest.warns(UserWarning, match="deprecated") as ours:
            got = F.soft_margin_loss(cr.tensor(x), t, size_average=sa, reduce=red)
        with pytest.warns(UserWarning, match="deprecated") as theirs:
            want = torch.nn.functional.soft_margin_loss(torch.tensor(x), torch.tensor(t),
                                                        size_average=sa, reduce=red)
        assert str(ours[0].message) == str(theirs[0].message)  # PyTorch's words
        assert ours[0].filename == __file__  # it points at the caller
        close(got, want, np.float64, f"{sa}, {red}")
