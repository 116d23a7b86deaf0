"""nn/channel_shuffle.py: ChannelShuffle and F.channel_shuffle against PyTorch (values and
gradients, several ranks and group counts), gradcheck, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "groups"), [((2, 6, 3), 2), ((2, 6, 3, 4), 3),
                                               ((1, 12, 2, 2, 2), 4), ((3, 5, 2), 1),
                                               ((2, 6, 3), 6)], ids=str)
def test_channel_shuffle_matches_torch(shape, groups, dtype, rng):
    torch = pytest.importorskip("torch")
    m, tm = nn.ChannelShuffle(groups), torch.nn.ChannelShuffle(groups)
    compare_module(m, tm, [rng.standard_normal(shape)], dtype, rng)
    x = rng.standard_normal(shape)
    close(F.channel_shuffle(x, groups), torch.nn.functional.channel_shuffle(torch.tensor(x),
                                                                           groups),
          np.float64, "functional")
    assert repr(m) == repr(tm)


def test_channel_shuffle_moves_channel_g_k_to_k_g():
    x = np.arange(6.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(F.channel_shuffle(x, 2).cpu().numpy().ravel(),
                                  [0, 3, 1, 4, 2, 5])


def test_channel_shuffle_gradcheck(rng):
    assert cr.gradcheck(lambda x: F.channel_shuffle(x, 3), [rng.standard_normal((2, 6, 2))])


@pytest.mark.parametrize(("shape", "groups", "match"), [
    ((2, 5, 3), 2, r"channel_shuffle: the number of channels must be divisible by groups, got 5 "
                   r"channels and 2 groups"),
    ((2, 6), 2, r"channel_shuffle: expected an input with more than 2 dimensions \(N, C, \*\), "
                r"got shape \(2, 6\)"),
    ((2, 6, 3), 0, "channel_shuffle: the number of groups to divide channels in must be "
                   "positive, got groups=0"),
])
def test_channel_shuffle_errors(shape, groups, match):
    with pytest.raises(ValueError, match=match):
        nn.ChannelShuffle(groups)(np.zeros(shape))
