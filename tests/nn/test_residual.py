"""BasicBlock against a PyTorch block built as torchvision's (same submodule names), with ported
weights: outputs, input and parameter gradients and running statistics, in training and
evaluation; and a small residual network end to end."""

from __future__ import annotations

import numpy as np
import pytest
from reference import to_numpy

import chainrule as cr
import chainrule.nn as nn

from .torch_port import DTYPES, compare_module, port


def torch_basic_block(inplanes, planes, stride=1):
    """torchvision.models.resnet.BasicBlock, written out (torchvision is not a dependency)."""
    import torch

    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    block = BasicBlock()
    with torch.no_grad():  # batch-norm parameters and statistics away from their defaults
        for m in block.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return block


BLOCKS = [(4, 4, 1), (4, 8, 1), (4, 8, 2), (4, 4, 2)]


CASES = ([(*b, t, np.float64) for b in BLOCKS for t in (True, False)]
         + [(4, 8, 2, True, np.float32), (4, 4, 1, False, np.float32)])


@pytest.mark.parametrize(("inplanes", "planes", "stride", "training", "dtype"), CASES, ids=str)
def test_basic_block_matches_torch(inplanes, planes, stride, training, dtype, rng):
    pytest.importorskip("torch")
    tm = torch_basic_block(inplanes, planes, stride)
    m = port(nn.BasicBlock(inplanes, planes, stride), tm, dtype)
    tm.train(training)
    m.train(training)
    x = rng.standard_normal((3, inplanes, 6, 5))
    compare_module(m, tm, [x], dtype, rng, scale=10 if dtype == np.float32 else 1)
    for name, buf in m.state_dict().items():  # running statistics updated alike
        want = tm.state_dict()[name].cpu().numpy()
        np.testing.assert_allclose(to_numpy(buf), want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_state_dict_keys_as_torchvision():
    pytest.importorskip("torch")
    for args in BLOCKS:
        assert list(nn.BasicBlock(*args).state_dict()) == list(
            torch_basic_block(*args).state_dict()), args
    keys = list(nn.BasicBlock(4, 8, 2).state_dict())
    assert "downsample.0.weight" in keys
    assert "downsample.1.running_var" in keys
    assert nn.BasicBlock(4, 4).downsample is None


def test_shapes_and_shortcut(rng):
    x = cr.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    assert nn.BasicBlock(4, 4)(x).shape == (2, 4, 8, 8)
    assert nn.BasicBlock(4, 8, stride=2)(x).shape == (2, 8, 4, 4)
    # a zero residual branch leaves relu(x) (identity shortcut)
    block = nn.BasicBlock(4, 4)
    with cr.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    np.testing.assert_allclose(block(x).cpu().numpy(), np.maximum(x.cpu().numpy(), 0))


def test_custom_downsample(rng):
    proj = nn.Conv2d(4, 6, 1, stride=2, bias=False)
    block = nn.BasicBlock(4, 6, stride=2, downsample=proj)
    assert block.downsample is proj
    assert list(block.state_dict())[-1] == "downsample.weight"
    assert block(cr.tensor(rng.standard_normal((1, 4, 6, 6)).astype(np.float32))).shape == (
        1, 6, 3, 3)


def test_gradcheck_tiny_block(rng):
    block = nn.BasicBlock(2, 3, stride=2).astype(np.float64).eval()
    with cr.no_grad():
        for p in block.parameters():
            p.copy_(cr.tensor(rng.standard_normal(p.shape)))
    x = rng.standard_normal((1, 2, 4, 3))
    assert cr.gradcheck(lambda x: block(x), [x])


def _resnet(M, torch_block):
    """stem conv -> BN -> ReLU -> max pool -> 2 blocks -> global average pool -> linear."""
    return M.Sequential(M.Conv2d(3, 4, 3, padding=1, bias=False), M.BatchNorm2d(4), M.ReLU(),
                        M.MaxPool2d(2), torch_block(4, 4, 1), torch_block(4, 8, 2),
                        M.AdaptiveAvgPool2d(1), M.Flatten(), M.Linear(8, 5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_resnet_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    tm = _resnet(torch.nn, torch_basic_block)
    m = port(_resnet(nn, nn.BasicBlock), tm, dtype)
    compare_module(m, tm, [rng.standard_normal((4, 3, 12, 10))], dtype, rng,
                   scale=10 if dtype == np.float32 else 1)
