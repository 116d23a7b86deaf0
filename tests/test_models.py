"""The model zoo: every model builds for digits and MNIST shapes, trains, and LeNet-5 reaches
98% on the bundled digits through `chainrule train`."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn
from chainrule.training import TrainConfig, train


@pytest.mark.parametrize("name", sorted(models.MODELS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_model_builds_and_one_step_lowers_the_loss(name, shape):
    cr.manual_seed(0)
    model = models.build(name, shape, 10)
    # drawn on the host, so every test device trains on the same values (a device's own random
    # stream gives other inputs, on which three Adam steps need not lower the loss)
    x = cr.randn(8, *shape, device="cpu").to(cr.get_default_device())
    y = cr.tensor(np.arange(8) % 10)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    model.eval()  # no dropout noise between the two evaluations
    first = loss_fn(model(x), y)
    assert model(x).shape == (8, 10)
    assert first.dtype == np.float32
    for _ in range(3):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    assert loss_fn(model(x), y).item() < first.item()


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.build("vgg", (1, 8, 8), 10)


def test_lenet5_on_digits_reaches_98_percent(tmp_path):
    pytest.importorskip("sklearn")
    result = train(TrainConfig(model="lenet5", out=str(tmp_path), progress=False),
                   log=lambda m: None)
    assert result.test_accuracy >= 0.98
    assert result.seconds < 120


@pytest.mark.parametrize("name", sorted(models.ACTIVATIONS))
def test_mlp_takes_every_activation(name):
    model = models.build("mlp", (1, 8, 8), 10, hidden=(16, 8), activation=name)
    acts = [type(m) for m in model if type(m) is models.ACTIVATIONS[name]]
    assert len(acts) == 2
    assert model(cr.randn(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="unknown activation 'swish2'"):
        models.build("mlp", (1, 8, 8), 10, activation="swish2")
