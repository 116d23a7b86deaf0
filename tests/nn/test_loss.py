"""Every loss, each reduction, against PyTorch: values and gradients (input and target);
smooth_l1_loss also at its kinks, for beta = 0 (L1), and by gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, compare_module

REDUCTIONS = ["mean", "sum", "none"]


def _t(a):
    import torch

    return torch.tensor(a)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


class TorchEuclidean:
    """The reference: 0.5 * squared l2 norm per sample (axes 1..), reduced over samples."""

    def __init__(self, reduction):
        import torch

        self.module = torch.nn.Module()
        self.reduction = reduction

    def named_parameters(self):
        return iter(())

    def __call__(self, x, t):
        per = 0.5 * ((x - t) ** 2).reshape(x.shape[0], -1).sum(1) if x.ndim > 1 else 0.5 * (
            x - t) ** 2
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[self.reduction]


def _cases(dtype, reduction, rng):
    """name -> (chainrule loss, torch loss, inputs, indices of the inputs to differentiate)."""
    import torch

    tn = torch.nn
    r = reduction
    x, t = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    w5 = rng.random(5) + 0.5
    logits = 2 * rng.standard_normal((6, 5))
    y = rng.integers(0, 5, 6)
    y_ign = y.copy()
    y_ign[[1, 4]] = -100
    y_ign7 = y.copy()
    y_ign7[2] = 7
    kd = 2 * rng.standard_normal((3, 5, 2, 4))
    ykd = rng.integers(0, 5, (3, 2, 4))
    probs = _softmax(rng.standard_normal((6, 5)), 1)
    pkd = _softmax(rng.standard_normal((3, 5, 2, 4)), 1)
    p = _sigmoid(rng.standard_normal((4, 5)))
    targets01 = rng.random((4, 5))
    wt = lambda a: a.astype(dtype)  # noqa: E731
    return {
        "mse": (nn.MSELoss(r), tn.MSELoss(reduction=r), [x, t], (0, 1)),
        "l1": (nn.L1Loss(r), tn.L1Loss(reduction=r), [x, t], (0, 1)),
        "huber": (nn.HuberLoss(r), tn.HuberLoss(reduction=r), [2 * x, t], (0, 1)),
        "huber_0.5": (nn.HuberLoss(r, delta=0.5), tn.HuberLoss(reduction=r, delta=0.5),
                      [2 * x, t], (0, 1)),
        "smooth_l1": (nn.SmoothL1Loss(r), tn.SmoothL1Loss(reduction=r), [2 * x, t], (0, 1)),
        "smooth_l1_0.5": (nn.SmoothL1Loss(r, beta=0.5), tn.SmoothL1Loss(reduction=r, beta=0.5),
                          [2 * x, t], (0, 1)),
        "smooth_l1_0": (nn.SmoothL1Loss(r, beta=0.0), tn.SmoothL1Loss(reduction=r, beta=0.0),
                        [x, t], (0, 1)),
        "euclidean": (nn.EuclideanLoss(r), TorchEuclidean(r), [x, t], (0, 1)),
        "euclidean_3d": (nn.EuclideanLoss(r), TorchEuclidean(r),
                         [rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))], (0, 1)),
        "ce": (nn.CrossEntropyLoss(reduction=r), tn.CrossEntropyLoss(reduction=r),
               [logits, y], (0,)),
        "ce_weight": (nn.CrossEntropyLoss(wt(w5), reduction=r),
                      tn.CrossEntropyLoss(_t(wt(w5)), reduction=r), [logits, y], (0,)),
        "ce_ignore": (nn.CrossEntropyLoss(wt(w5), reduction=r),
                      tn.CrossEntropyLoss(_t(wt(w5)), reduction=r), [logits, y_ign], (0,)),
        "ce_ignore_7": (nn.CrossEntropyLoss(ignore_index=7, reduction=r),
                        tn.CrossEntropyLoss(ignore_index=7, reduction=r), [logits, y_ign7], (0,)),
        "ce_smooth": (nn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
                      tn.CrossEntropyLoss(reduction=r, label_smoothing=0.2), [logits, y], (0,)),
        "ce_smooth_weight_ignore": (
            nn.CrossEntropyLoss(wt(w5), reduction=r, label_smoothing=0.3),
            tn.CrossEntropyLoss(_t(wt(w5)), reduction=r, label_smoothing=0.3),
            [logits, y_ign], (0,)),
        "ce_kdim": (nn.CrossEntropyLoss(wt(w5), reduction=r, label_smoothing=0.1),
                    tn.CrossEntropyLoss(_t(wt(w5)), reduction=r, label_smoothing=0.1),
                    [kd, ykd], (0,)),
        "ce_1d": (nn.CrossEntropyLoss(reduction=r), tn.CrossEntropyLoss(reduction=r),
                  [logits[0], np.array(3)], (0,)),
        "ce_probs": (nn.CrossEntropyLoss(reduction=r), tn.CrossEntropyLoss(reduction=r),
                     [logits, probs], (0, 1)),
        "ce_probs_smooth_weight": (
            nn.CrossEntropyLoss(wt(w5), reduction=r, label_smoothing=0.25),
            tn.CrossEntropyLoss(_t(wt(w5)), reduction=r, label_smoothing=0.25),
            [logits, probs], (0, 1)),
        "ce_probs_kdim": (nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
                          tn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
                          [kd, pkd], (0, 1)),
        "nll": (nn.NLLLoss(reduction=r), tn.NLLLoss(reduction=r),
                [np.log(probs), y], (0,)),
        "nll_weight_ignore": (nn.NLLLoss(wt(w5), reduction=r),
                              tn.NLLLoss(_t(wt(w5)), reduction=r), [np.log(probs), y_ign], (0,)),
        "nll_kdim": (nn.NLLLoss(wt(w5), reduction=r), tn.NLLLoss(_t(wt(w5)), reduction=r),
                     [np.log(pkd), ykd], (0,)),
        "bce": (nn.BCELoss(reduction=r), tn.BCELoss(reduction=r), [p, targets01], (0, 1)),
        "bce_weight": (nn.BCELoss(wt(w5), reduction=r), tn.BCELoss(_t(wt(w5)), reduction=r),
                       [p, targets01], (0, 1)),
        "bce_logits": (nn.BCEWithLogitsLoss(reduction=r), tn.BCEWithLogitsLoss(reduction=r),
                       [3 * x, targets01], (0, 1)),
        "bce_logits_weights": (
            nn.BCEWithLogitsLoss(wt(w5), reduction=r, pos_weight=wt(2 * w5)),
            tn.BCEWithLogitsLoss(_t(wt(w5)), reduction=r, pos_weight=_t(wt(2 * w5))),
            [3 * x, targets01], (0, 1)),
        "multi_margin": (nn.MultiMarginLoss(reduction=r), tn.MultiMarginLoss(reduction=r),
                         [logits, y], (0,)),
        "multi_margin_p2": (nn.MultiMarginLoss(p=2, margin=0.5, reduction=r),
                            tn.MultiMarginLoss(p=2, margin=0.5, reduction=r), [logits, y], (0,)),
        "multi_margin_weight": (nn.MultiMarginLoss(weight=wt(w5), reduction=r),
                                tn.MultiMarginLoss(weight=_t(wt(w5)), reduction=r),
                                [logits, y], (0,)),
        "multi_margin_1d": (nn.MultiMarginLoss(p=2, reduction=r),
                            tn.MultiMarginLoss(p=2, reduction=r), [logits[0], np.array(2)], (0,)),
    }


NAMES = [
    "mse", "l1", "huber", "huber_0.5", "smooth_l1", "smooth_l1_0.5", "smooth_l1_0", "euclidean",
    "euclidean_3d", "ce", "ce_weight",
    "ce_ignore", "ce_ignore_7", "ce_smooth", "ce_smooth_weight_ignore", "ce_kdim", "ce_1d",
    "ce_probs", "ce_probs_smooth_weight", "ce_probs_kdim", "nll", "nll_weight_ignore",
    "nll_kdim", "bce", "bce_weight", "bce_logits", "bce_logits_weights", "multi_margin",
    "multi_margin_p2", "multi_margin_weight", "multi_margin_1d",
]


def test_every_case_is_listed(rng):
    pytest.importorskip("torch")
    assert list(_cases(np.float64, "mean", rng)) == NAMES


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_loss_matches_torch(name, reduction, dtype, rng):
    pytest.importorskip("torch")
    loss, tloss, inputs, grads = _cases(dtype, reduction, rng)[name]
    compare_module(loss, tloss, inputs, dtype, rng, grad_inputs=grads)


@pytest.mark.parametrize("options", [
    {}, {"label_smoothing": 0.1}, {"weight": True}, {"weight": True, "label_smoothing": 0.2}])
@pytest.mark.parametrize("targets", ["indices", "probabilities"])
def test_cross_entropy_is_stable_at_huge_logits(options, targets, rng):
    torch = pytest.importorskip("torch")
    x = (1e4 * rng.choice([-1.0, 1.0], (8, 6))).astype(np.float32)
    x[:, 0] = 1e4
    x[0] = -1e4
    y = rng.integers(0, 6, 8)
    if targets == "probabilities":
        y = _softmax(rng.standard_normal((8, 6)), 1).astype(np.float32)
    kw = dict(options)
    if kw.get("weight"):
        kw["weight"] = (rng.random(6) + 0.5).astype(np.float32)
    xt = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, y, **kw)
    loss.backward()
    assert loss.dtype == xt.grad.dtype == np.float32
    assert np.isfinite(loss.cpu().numpy())
    assert np.isfinite(xt.grad.cpu().numpy()).all()
    tkw = {k: (_t(v) if k == "weight" else v) for k, v in kw.items()}
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, _t(y), **tkw)
    tl.backward()
    np.testing.assert_allclose(loss.cpu().numpy(), tl.detach().cpu().numpy(), rtol=1e-5)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_all_ignored_mean_is_nan_without_warning():
    x = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([-100, -100]))
    assert np.isnan(loss.item())


def test_weighted_losses_keep_weight_as_buffer_like_torch():
    torch = pytest.importorskip("torch")
    w = np.ones(3, np.float32)
    for m, tm in [(nn.CrossEntropyLoss(w), torch.nn.CrossEntropyLoss(_t(w))),
                  (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
                  (nn.NLLLoss(w), torch.nn.NLLLoss(_t(w))),
                  (nn.BCEWithLogitsLoss(w, pos_weight=w),
                   torch.nn.BCEWithLogitsLoss(_t(w), pos_weight=_t(w))),
                  (nn.MultiMarginLoss(weight=w), torch.nn.MultiMarginLoss(weight=_t(w)))]:
        assert list(m.state_dict()) == list(tm.state_dict())
        assert list(m.parameters()) == []


def test_euclidean_loss_definition():
    x = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 4.0]])
    t = np.zeros_like(x)
    np.testing.assert_allclose(F.euclidean_loss(x, t, "none").cpu().numpy(), [2.5, 0.0, 12.5])
    np.testing.assert_allclose(F.euclidean_loss(x, t, "sum").cpu().numpy(), 15.0)
    np.testing.assert_allclose(F.euclidean_loss(x, t).cpu().numpy(), 5.0)


def test_loss_errors():
    x = cr.zeros(4, 3)
    with pytest.raises(ValueError, match=r"mse_loss: target of shape \(4,\) does not match"):
        F.mse_loss(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.zeros(4, np.int64), reduction="avg")
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not match"):
        F.nll_loss(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x + 2, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss,
                                F.euclidean_loss,
                                F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_pointwise_losses_keep_float32(fn, rng):
    x = cr.tensor(_sigmoid(rng.standard_normal((3, 4))).astype(np.float32), requires_grad=True)
    loss = fn(x, rng.random((3, 4)).astype(np.float32))
    loss.backward()
    assert loss.dtype == x.grad.dtype == np.float32


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_at_the_kinks_matches_torch(beta):
    """Differences exactly at 0 and at +-beta (the switch between the branches): value and
    gradient as PyTorch's; beta = 0 is the L1 loss."""
    torch = pytest.importorskip("torch")
    d = np.array([0.0, beta, -beta, 0.5 * beta, 3.0, -2.5, 1e-3])
    target = np.linspace(-1, 1, d.size)
    x = cr.tensor(target + d, requires_grad=True)
    tx = torch.tensor(target + d, requires_grad=True)
    for reduction in REDUCTIONS:
        x.grad = None
        tx.grad = None
        loss = F.smooth_l1_loss(x, target, reduction, beta)
        tloss = torch.nn.functional.smooth_l1_loss(tx, _t(target), reduction=reduction, beta=beta)
        np.testing.assert_allclose(loss.cpu().numpy(), tloss.detach().numpy(), rtol=1e-12,
                                   atol=1e-15)
        loss.sum().backward()
        tloss.sum().backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    if beta == 0:
        np.testing.assert_allclose(F.smooth_l1_loss(x, target, beta=0.0).cpu().numpy(),
                                   F.l1_loss(x, target).cpu().numpy(), rtol=1e-15)


def test_smooth_l1_is_huber_over_beta(rng):
    x, t = 3 * rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    for beta in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(F.smooth_l1_loss(x, t, "none", beta).cpu().numpy(),
                                   F.huber_loss(x, t, "none", beta).cpu().numpy() / beta,
                                   rtol=1e-12)


def test_smooth_l1_gradcheck(rng):
    x, t = 3 * rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert cr.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, "sum", 0.7), [x, t])


def test_smooth_l1_errors():
    x = cr.zeros(4, 3)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative"):
        F.smooth_l1_loss(x, np.zeros((4, 3), np.float32), beta=-1.0)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be non-negative"):
        nn.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: target of shape \(4,\) does not "
                                         r"match input of shape \(4, 3\)"):
        F.smooth_l1_loss(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="reduction"):
        nn.SmoothL1Loss(reduction="avg")
