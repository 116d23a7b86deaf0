"""``python -m chainrule.torch script.py``: an unchanged PyTorch script runs on chainrule."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TRAIN = """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset, random_split
import torch.backends.cudnn as cudnn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


if __name__ == "__main__":
    torch.manual_seed(0)
    cudnn.benchmark = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.randn(96, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    train, test = random_split(TensorDataset(x, y), [64, 32],
                               generator=torch.Generator().manual_seed(1))
    loader = DataLoader(train, batch_size=16, shuffle=True)
    model = Net().to(device)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    losses = []
    for epoch in range(int(sys.argv[1])):
        model.train()
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        losses.append(total / len(loader))
    model.eval()
    with torch.no_grad():
        xs, ys = next(iter(DataLoader(test, batch_size=32)))
        acc = (model(xs).argmax(1) == ys).float().mean().item()
    print(torch.__name__, sys.argv[2], losses[0], losses[-1], acc)
"""

WORKERS = """
import sys
import torch
from torch.utils.data import DataLoader, Dataset


class Names(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        import torch.nn.functional as F  # imported inside the worker process
        return torch.tensor([float(i)]), F.__name__


if __name__ == "__main__":
    loader = DataLoader(Names(), batch_size=2, num_workers=2,
                        multiprocessing_context=sys.argv[1])
    names = {n for _, batch in loader for n in batch}
    print(sorted(names))
"""


def run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "chainrule.torch", str(script), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240)


def test_unchanged_pytorch_script_trains(tmp_path: Path) -> None:
    res = run(tmp_path, TRAIN, "25", "extra-arg")
    assert res.returncode == 0, res.stderr
    name, arg, first, last, acc = res.stdout.split()
    assert name == "chainrule.torch"
    assert arg == "extra-arg"
    assert float(last) < 0.5 * float(first)
    assert float(acc) > 0.7


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_see_chainrule_as_torch(tmp_path: Path, context: str) -> None:
    res = run(tmp_path, WORKERS, context)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['chainrule.torch.nn.functional']"


@pytest.mark.parametrize("module", ["torch.fx", "torch.nn.utils.rnn",
                                    "torch.cuda.amp", "torch.distributions"])
def test_missing_module_is_a_clear_import_error(tmp_path: Path, module: str) -> None:
    res = run(tmp_path, f"import {module}\n")
    assert res.returncode != 0
    assert f"chainrule.torch has no module {module!r} yet" in res.stderr


def test_missing_name_is_a_clear_error(tmp_path: Path) -> None:
    res = run(tmp_path, "import torch\ntorch.compile(lambda x: x)\n")
    assert res.returncode != 0
    assert "chainrule.torch has no 'compile' yet" in res.stderr


def test_usage_without_a_script() -> None:
    res = subprocess.run([sys.executable, "-m", "chainrule.torch"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert "usage" in res.stderr
