"""nn/loss_multilabel.py against PyTorch: MultiLabelSoftMarginLoss and MultiLabelMarginLoss values
and input gradients over reductions, weights, 1-d input, targets ended early, repeated or
ending in -1; state dicts; gradcheck to second order; float32; errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module

REDUCTIONS = ["mean", "sum", "none"]


def _soft_inputs(rng, shape=(4, 5)):
    return [3 * rng.standard_normal(shape), rng.uniform(0, 1, shape).round(1)]


def _margin_target(c=5):
    """Rows: a full list, one ended by -1, one starting with -1 (no targets), a repeat, and the
    classes after -1 that are ignored."""
    return np.array([[0, 1, 2, 3, 4], [3, 0, -1, 1, 1], [-1, 2, 0, 0, 0], [4, 4, 1, -1, 0],
                     [2, -1, 3, 3, 3]])[:, :c]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(weighted, reduction, dtype, rng):
    torch = pytest.importorskip("torch")
    w = rng.uniform(0.5, 2, 5) if weighted else None
    m = nn.MultiLabelSoftMarginLoss(None if w is None else cr.tensor(w.astype(dtype)),
                                    reduction=reduction)
    tm = torch.nn.MultiLabelSoftMarginLoss(None if w is None else torch.tensor(w.astype(dtype)),
                                           reduction=reduction)
    assert list(m.state_dict()) == list(tm.state_dict())
    compare_module(m, tm, _soft_inputs(rng), dtype, rng)
    compare_module(m, tm, _soft_inputs(rng, (5,)), dtype, rng)  # one sample


def test_multilabel_soft_margin_loss_functional_and_legacy_flags(rng):
    torch = pytest.importorskip("torch")
    x, t = _soft_inputs(rng)
    tf = torch.nn.functional
    close(F.multilabel_soft_margin_loss(x, t, reduction="sum"),
          tf.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(t), reduction="sum"),
          np.float64, "sum")
    for kw in (dict(size_average=False), dict(reduce=False)):
        with pytest.warns(UserWarning, match="deprecated"):
            want = tf.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(t), **kw)
        with pytest.warns(UserWarning, match="deprecated"):
            got = F.multilabel_soft_margin_loss(x, t, **kw)
        close(got, want, np.float64, str(kw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_matches_torch(reduction, dtype, rng):
    torch = pytest.importorskip("torch")
    m, tm = (nn.MultiLabelMarginLoss(reduction=reduction),
             torch.nn.MultiLabelMarginLoss(reduction=reduction))
    x = rng.standard_normal((5, 5))
    x[1, 2:4] = [-0.5, 0.5]  # 1 - (x[3] - x[2]) = 0 in row 1: a hinge exactly at its kink
    compare_module(m, tm, [x, _margin_target()], dtype, rng)
    for row in range(5):  # 1-d input: one sample, a 0-d loss
        compare_module(m, tm, [x[row], _margin_target()[row]], dtype, rng)


def test_multilabel_margin_loss_legacy_flags(rng):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((5, 5)), _margin_target()
    for kw in (dict(size_average=False), dict(reduce=False)):
        with pytest.warns(UserWarning, match="deprecated"):
            want = torch.nn.functional.multilabel_margin_loss(torch.tensor(x), torch.tensor(y),
                                                              **kw)
        with pytest.warns(UserWarning, match="deprecated"):
            got = F.multilabel_margin_loss(x, y, **kw)
        close(got, want, np.float64, str(kw))


def test_multilabel_losses_gradcheck_and_second_order(rng):
    x, t = _soft_inputs(rng)
    w = rng.uniform(0.5, 2, 5)
    soft = lambda x, t: F.multilabel_soft_margin_loss(x, t, w)  # noqa: E731
    assert cr.gradcheck(soft, [x, t])
    assert cr.gradcheck(cr.grad(soft), [x, t])
    y = _margin_target()
    x = rng.permutation(25).reshape(5, 5) * 0.37  # no hinge at its kink
    hinge = lambda x: F.multilabel_margin_loss(x, y, reduction="sum")  # noqa: E731
    assert cr.gradcheck(hinge, [x])
    assert cr.gradcheck(lambda x: cr.jvp(hinge, (x,), (cr.ones_like(x),))[1], [x])


@pytest.mark.parametrize("name", ["multilabel_soft_margin_loss", "multilabel_margin_loss"])
def test_multilabel_losses_float32_stays_float32(name, rng):
    x = cr.tensor(rng.standard_normal((5, 5)).astype(np.float32), requires_grad=True)
    t = _margin_target() if name == "multilabel_margin_loss" else np.ones((5, 5), np.float32)
    loss = getattr(F, name)(x, t)
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(("fn", "args", "error", "match"), [
    (F.multilabel_margin_loss, (np.zeros((2, 4)), np.array([[3, -2, 0, 0], [1, -1, 0, 0]])),
     IndexError, "multilabel_margin_loss: target -2 is out of range for 4 classes"),
    (F.multilabel_margin_loss, (np.zeros((2, 4)), np.array([[3, -1, 7, 0], [1, -1, 0, 0]])),
     IndexError, "multilabel_margin_loss: target 7 is out of range for 4 classes"),
    (F.multilabel_margin_loss, (np.zeros((3, 4)), np.zeros((3, 3), np.int64)), ValueError,
     r"multilabel_margin_loss: target of shape \(3, 3\) does not match input of shape "
     r"\(3, 4\)"),
    (F.multilabel_margin_loss, (np.zeros((3, 4)), np.zeros((3, 4))), TypeError,
     "multilabel_margin_loss: target must hold integer class indices, got float64"),
    (F.multilabel_margin_loss, (np.zeros((1, 3, 4)), np.zeros((1, 3, 4), np.int64)), ValueError,
     r"multilabel_margin_loss: expected a non-empty vector or matrix \(N, C\), got shape "
     r"\(1, 3, 4\)"),
    (F.multilabel_margin_loss, (np.zeros((3, 4)), np.zeros((3, 4), np.int64), None, None, "x"),
     ValueError, "multilabel_margin_loss: reduction must be 'mean', 'sum' or 'none', got 'x'"),
    (F.multilabel_soft_margin_loss, (np.zeros((3, 4)), np.zeros((3, 5))), ValueError,
     r"multilabel_soft_margin_loss: shapes \(3, 4\), \(3, 5\) cannot be broadcast"),
])
def test_errors_name_the_loss_and_values(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args)
