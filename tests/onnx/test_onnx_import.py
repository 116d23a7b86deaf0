"""Import: PyTorch's own ONNX exports of the zoo architectures load, match, and fine-tune."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx_helpers import DYNAMIC, TOL, max_diff, run_cr  # noqa: E402
from reference import to_numpy  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.onnx as cro  # noqa: E402
from chainrule import models  # noqa: E402

tnn = torch.nn
SHAPE = (1, 8, 8)


class Block(tnn.Module):
    """torchvision's BasicBlock, with the parameter names of chainrule's nn.BasicBlock."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tnn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class RowReader(tnn.Module):
    """The zoo's recurrent classifier: rows of the image as a sequence, head on the last step."""

    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = {"lstm": tnn.LSTM, "gru": tnn.GRU}[cell](8, hidden, batch_first=True)
        self.head = tnn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.reshape(x.shape[0], 8, 8))
        return self.head(out[:, -1])


def _torch_model(name: str) -> tnn.Module:
    if name == "mlp":
        return tnn.Sequential(tnn.Flatten(), tnn.Linear(64, 32), tnn.ReLU(), tnn.Linear(32, 10))
    if name == "lenet5":
        return tnn.Sequential(tnn.Conv2d(1, 6, 3, padding=1), tnn.ReLU(),
                              tnn.Conv2d(6, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Flatten(), tnn.Dropout(0.3), tnn.Linear(256, 120), tnn.ReLU(),
                              tnn.Dropout(0.3), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))
    if name == "resnet":
        return tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1, bias=False), tnn.BatchNorm2d(4),
                              tnn.ReLU(), Block(4, 4, 1), Block(4, 8, 2),
                              tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(8, 10))
    return RowReader(name, 16)


ZOO = {"mlp": {"hidden": (32,)}, "lenet5": {}, "resnet": {"widths": (4, 8)},
       "lstm": {"hidden": 16}, "gru": {"hidden": 16}}


def _pair(name: str, rng: np.random.Generator) -> tuple[object, tnn.Module, bytes]:
    """A chainrule zoo model, the PyTorch twin holding its weights, and PyTorch's export."""
    model = models.build(name, SHAPE, 10, **ZOO[name])
    model.train()
    with cr.no_grad():  # non-default BatchNorm statistics
        model(cr.tensor(rng.standard_normal((8, *SHAPE)).astype(np.float32)))
    twin = _torch_model(name)
    twin.load_state_dict({k: torch.from_numpy(np.array(to_numpy(v))) for k, v in
                          model.state_dict().items()})
    twin.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore")
        torch.onnx.export(twin, (torch.zeros(3, *SHAPE),), buf, input_names=["input"],
                          output_names=["output"], dynamic_axes=DYNAMIC, opset_version=17,
                          dynamo=False)
    return model, twin, buf.getvalue()


@pytest.mark.parametrize("name", sorted(ZOO))
def test_pytorch_export_loads_and_matches(name: str, rng: np.random.Generator) -> None:
    model, twin, data = _pair(name, rng)
    loaded = cro.load(io.BytesIO(data))
    for batch in (3, 5):
        x = rng.standard_normal((batch, *SHAPE)).astype(np.float32)
        with torch.no_grad():
            want = twin(torch.from_numpy(x)).numpy()
        assert max_diff(run_cr(loaded, x), want) < TOL
        assert max_diff(run_cr(model, x), want) < TOL


def test_pytorch_export_fine_tunes(rng: np.random.Generator) -> None:
    _, _, data = _pair("lenet5", rng)
    loaded = cro.load(io.BytesIO(data))
    params = list(loaded.parameters())
    assert params
    assert all(p.requires_grad for p in params)
    x = cr.tensor(rng.standard_normal((16, *SHAPE)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, 16))
    opt = cr.optim.Adam(loaded.parameters(), lr=0.01)
    loss_fn = cr.nn.CrossEntropyLoss()
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = loss_fn(loaded(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_unsupported_onnx_op_is_named() -> None:
    from onnx import TensorProto, helper

    node = helper.make_node("Hardmax", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                          [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    with pytest.raises(cro.UnsupportedOpError, match="Hardmax"):
        cro.load(helper.make_model(graph))
