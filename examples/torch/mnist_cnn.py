"""A small convolutional network on handwritten digits, in the style of PyTorch's MNIST example.

By default the data are the 8x8 digits bundled with scikit-learn (1797 images, 1x8x8), so the
script runs offline in seconds; ``--data-dir`` reads the real MNIST IDX files (1x28x28) instead.
Conv -> ReLU -> MaxPool twice, then two Linear layers with dropout; cross-entropy with label
smoothing, Adadelta and a StepLR schedule as in the official example, and a test loop reporting
loss and accuracy.

    python examples/torch/mnist_cnn.py
    python -m chainrule.torch examples/torch/mnist_cnn.py --data-dir /path/to/mnist
"""

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def load_digits_8x8(seed=0, test_fraction=0.2):
    """scikit-learn's digits as float32 images in [0, 1], split into train and test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])


def read_idx(path):
    """An IDX file (optionally gzipped) as a NumPy array: MNIST's own format."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(root, n_train, n_test):
    """The first n_train / n_test MNIST images as float32 in [0, 1], shape (N, 1, 28, 28)."""
    root = Path(root)

    def find(stem):
        for name in (stem, stem + ".gz"):
            if (root / name).exists():
                return root / name
        raise FileNotFoundError(f"no {stem}[.gz] in {root}")

    def split(prefix, n):
        images = read_idx(find(f"{prefix}-images-idx3-ubyte"))[:n]
        labels = read_idx(find(f"{prefix}-labels-idx1-ubyte"))[:n]
        return (images / 255.0).astype(np.float32)[:, None], labels.astype(np.int64)

    return split("train", n_train), split("t10k", n_test)


class Net(nn.Module):
    def __init__(self, image_size):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        flat = 32 * (image_size // 4) ** 2
        self.fc1 = nn.Linear(flat, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def train(model, device, loader, optimizer, epoch, log_interval, smoothing):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.cross_entropy(output, target, label_smoothing=smoothing)
        loss.backward()
        optimizer.step()
        if epoch == 1 and batch_idx == 0:
            print(f"FIRST loss={loss.item():.4f}")
        if batch_idx % log_interval == 0:
            print(f"Train epoch {epoch} [{batch_idx * len(data)}/{len(loader.dataset)}] "
                  f"loss: {loss.item():.4f}")


def test(model, device, loader, smoothing):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.cross_entropy(output, target, reduction="sum",
                                         label_smoothing=smoothing).item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    n = len(loader.dataset)
    return test_loss / n, correct / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.85)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files")
    parser.add_argument("--train-size", type=int, default=6000, help="with --data-dir")
    parser.add_argument("--test-size", type=int, default=1000, help="with --data-dir")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.data_dir:
        (x_train, y_train), (x_test, y_test) = load_mnist(args.data_dir, args.train_size,
                                                          args.test_size)
    else:
        (x_train, y_train), (x_test, y_test) = load_digits_8x8()
    train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    test_set = TensorDataset(torch.tensor(x_test), torch.tensor(y_test))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = Net(x_train.shape[-1]).to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.gamma)
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, epoch, args.log_interval,
              args.label_smoothing)
        test_loss, accuracy = test(model, device, test_loader, args.label_smoothing)
        print(f"Test epoch {epoch}: average loss {test_loss:.4f}, accuracy {accuracy:.4f} "
              f"({time.time() - start:.1f}s)")
        scheduler.step()
    print(f"RESULT loss={test_loss:.4f} accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
