"""Dropout and channel dropout (1d/2d/3d): inverted-dropout statistics in training, whole
channels zeroed, identity in eval, PyTorch's treatment of 3-D input to Dropout2d."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = cr.tensor(np.ones((400, 500), np.float32), requires_grad=True)
    y = nn.Dropout(p, rng=np.random.default_rng(0))(x)
    kept = y.cpu().numpy() != 0
    assert y.dtype == np.float32
    assert abs(kept.mean() - (1 - p)) < 0.005
    np.testing.assert_allclose(y.cpu().numpy()[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.cpu().numpy().mean() - 1) < 0.02  # inverted dropout keeps the expectation
    y.sum().backward()
    # the gradient is the same mask
    np.testing.assert_array_equal(x.grad.cpu().numpy(), y.cpu().numpy())


def test_dropout_is_identity_in_eval_and_for_p_zero(rng):
    x = cr.tensor(rng.standard_normal((3, 4)))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_p_one_zeroes_everything(rng):
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = nn.Dropout(1.0)(x)
    assert np.all(y.cpu().numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.cpu().numpy() == 0)


def test_dropout_uses_the_global_generator():
    x = cr.ones(50, 50)
    d = nn.Dropout(0.5)
    cr.manual_seed(7)
    a = d(x).cpu().numpy()
    b = d(x).cpu().numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(d(x).cpu().numpy(), a)
    assert not np.array_equal(a, b)


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ----- channel dropout: Dropout1d, Dropout2d, Dropout3d -----
CHANNEL = [(nn.Dropout1d, (40, 50, 6)), (nn.Dropout2d, (40, 50, 3, 2)),
           (nn.Dropout3d, (40, 50, 2, 3, 2))]


@pytest.mark.parametrize(("layer", "shape"), CHANNEL, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_channel_dropout_statistics(layer, shape, p):
    """Whole channels zeroed with probability p, the rest scaled by 1/(1-p); the gradient is
    the same mask."""
    x = cr.tensor(np.ones(shape, np.float32), requires_grad=True)
    y = layer(p)(x)
    assert y.dtype == np.float32
    per_channel = y.cpu().numpy().reshape(shape[0], shape[1], -1)
    kept = per_channel[..., 0] != 0
    # each channel is all kept or all zeroed
    np.testing.assert_array_equal(per_channel, np.broadcast_to(
        np.where(kept, np.float32(1 / (1 - p)), 0)[..., None], per_channel.shape))
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / kept.size)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), y.cpu().numpy())


@pytest.mark.parametrize(("layer", "shape"), CHANNEL, ids=lambda v: getattr(v, "__name__", v))
def test_channel_dropout_train_eval_switch(layer, shape, rng):
    x = cr.tensor(rng.standard_normal(shape))
    m = layer(0.5)
    assert m.eval()(x) is x
    assert not np.array_equal(m.train()(x).cpu().numpy(), x.cpu().numpy())
    assert layer(0.0)(x) is x
    assert np.all(layer(1.0)(x).cpu().numpy() == 0)


def test_channel_dropout_unbatched_input():
    """(C, L) for Dropout1d and (C, D, H, W) for Dropout3d: one draw per channel, as PyTorch."""
    for layer, shape in [(nn.Dropout1d, (200, 5)), (nn.Dropout3d, (200, 2, 2, 3))]:
        y = layer(0.5)(cr.ones(*shape)).cpu().numpy().reshape(shape[0], -1)
        assert np.all(y == y[:, :1])
        assert 0.3 < (y[:, 0] != 0).mean() < 0.7


def test_dropout2d_takes_3d_input_as_n_c_l_with_torch_warning():
    """torch 2.x: a 3-D input to dropout2d is (N, C, L), channel-wise 1-d dropout, and warns."""
    x = cr.ones(30, 40, 5)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = nn.Dropout2d(0.5)(x).cpu().numpy()
    assert np.all(y == y[:, :, :1])  # one draw per (n, c): axis 1 is the channel
    rows = y[:, :, 0] != 0
    assert rows.mean(axis=1).min() > 0  # not one draw per sample
    assert rows.mean(axis=1).max() < 1
    assert rows.mean(axis=0).min() > 0  # not one draw per channel
    assert rows.mean(axis=0).max() < 1
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(cr.ones(4, 3), 0.5)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(cr.ones(4, 3, 2), 0.5)


def test_channel_dropout_has_torch_mask_structure():
    """The same output shape and values as PyTorch's, constant over the same axes."""
    torch = pytest.importorskip("torch")
    for name, shape, lead in [("dropout1d", (3, 40, 5), 2), ("dropout1d", (40, 5), 1),
                              ("dropout2d", (3, 40, 5, 2), 2), ("dropout3d", (40, 2, 3, 2), 1)]:
        y = getattr(F, name)(cr.ones(*shape), 0.5).cpu().numpy()
        ty = getattr(torch.nn.functional, name)(torch.ones(shape), 0.5).cpu().numpy()
        assert y.shape == ty.shape
        for mask in (y, ty):
            assert set(np.unique(mask)) == {0.0, 2.0}
            flat = mask.reshape(*shape[:lead], -1)
            assert np.all(flat == flat[..., :1])


def test_channel_dropout_uses_the_global_generator():
    x = cr.ones(20, 30, 4)
    d = nn.Dropout1d(0.5)
    cr.manual_seed(3)
    a = d(x).cpu().numpy()
    b = d(x).cpu().numpy()
    cr.manual_seed(3)
    np.testing.assert_array_equal(d(x).cpu().numpy(), a)
    assert not np.array_equal(a, b)
    r1 = nn.Dropout1d(0.5, rng=np.random.default_rng(1))(x).cpu().numpy()
    r2 = nn.Dropout1d(0.5, rng=np.random.default_rng(1))(x).cpu().numpy()
    np.testing.assert_array_equal(r1, r2)


def test_channel_dropout_errors_and_repr():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"dropout1d: expected a 2-D or 3-D input .* shape "
                                         r"\(2, 3, 4, 5\)"):
        nn.Dropout1d()(cr.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"dropout2d: feature dropout needs at least 2 "
                                         r"dimensions .* shape \(4,\)"), \
            pytest.warns(UserWarning, match="1-D input to dropout2d"):
        F.dropout2d(cr.ones(4), 0.5)
    with pytest.raises(ValueError, match="Dropout2d: probability has to be between 0 and 1"):
        nn.Dropout2d(-0.1)
    with pytest.raises(ValueError, match="dropout1d: probability has to be between 0 and 1"):
        F.dropout1d(cr.ones(2, 3), 1.5)
    for name in ("Dropout1d", "Dropout2d", "Dropout3d"):
        assert repr(getattr(nn, name)(0.3)) == repr(getattr(torch.nn, name)(0.3))
