"""PyTorch's "Optimizing Model Parameters" tutorial, as a regression on the diabetes data.

A Dataset subclass (as in "Datasets & DataLoaders") behind DataLoaders; a model initialised with
model.apply; hyperparameters up front, a loss function, an optimizer (SGD with momentum and
weight decay) and a learning-rate scheduler; train_loop calls optimizer.zero_grad(),
loss.backward() and optimizer.step() per batch, scheduler.step() per epoch; test_loop (under
@torch.no_grad()) reports the test MSE on the standardized target. Halfway, a general checkpoint
(epoch, model, optimizer and scheduler state dicts) is saved, and training resumes from it in
fresh objects, as in "Saving and loading a general checkpoint".

    python examples/torch/tutorial_optimization.py
    python -m chainrule.torch examples/torch/tutorial_optimization.py
"""

import argparse
import math
import os
import tempfile

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import DataLoader, Dataset


class DiabetesDataset(Dataset):
    """Rows of scikit-learn's diabetes data: (10 standardized features, standardized target)."""

    def __init__(self, features, targets):
        self.features = features
        self.targets = targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, idx):
        return torch.from_numpy(self.features[idx]), torch.tensor(self.targets[idx])


def load_data():
    """Train and test datasets, an 80/20 split fixed by NumPy (the same for every framework)."""
    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:88], order[88:]
    mean, std = x[train].mean(0), x[train].std(0)
    x = ((x - mean) / std).astype(np.float32)
    y = ((y - y[train].mean()) / y[train].std()).astype(np.float32)
    return DiabetesDataset(x[train], y[train]), DiabetesDataset(x[test], y[test])


class Regressor(nn.Module):
    def __init__(self, n_features, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    total = 0.0
    for X, y in dataloader:
        pred = model(X)
        loss = loss_fn(pred, y)

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(X)
    return total / len(dataloader.dataset)


@torch.no_grad()
def test_loop(dataloader, model, loss_fn):
    model.eval()
    test_loss = 0.0
    for X, y in dataloader:
        test_loss += loss_fn(model(X), y).item() * len(X)
    return test_loss / len(dataloader.dataset)


def make_training(n_features, learning_rate):
    model = Regressor(n_features)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9,
                                weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    return model, optimizer, scheduler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    training_data, test_data = load_data()
    train_dataloader = DataLoader(training_data, batch_size=args.batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=args.batch_size)
    X, y = next(iter(train_dataloader))
    print(f"Feature batch shape: {X.size()}, target batch shape: {y.size()}")
    n_features = X.shape[1]

    model, optimizer, scheduler = make_training(n_features, args.learning_rate)
    model.apply(init_weights)
    loss_fn = nn.MSELoss()

    print(f"FIRST loss={test_loop(test_dataloader, model, loss_fn):.4f}")
    checkpoint_dir = tempfile.TemporaryDirectory()
    path = os.path.join(checkpoint_dir.name, "checkpoint.pt")
    for t in range(args.epochs):
        train_loss = train_loop(train_dataloader, model, loss_fn, optimizer)
        scheduler.step()
        test_loss = test_loop(test_dataloader, model, loss_fn)
        if t % 10 == 9:
            print(f"Epoch {t + 1}: lr {scheduler.get_last_lr()[0]:.5f}, "
                  f"train loss {train_loss:.4f}, test loss {test_loss:.4f}")
        if t + 1 == args.epochs // 2:
            torch.save({
                "epoch": t,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "scheduler_state_dict": scheduler.state_dict(),
                "loss": train_loss,
            }, path)
            # resume in fresh objects, as after a restart
            model, optimizer, scheduler = make_training(n_features, args.learning_rate)
            checkpoint = torch.load(path, weights_only=True)
            model.load_state_dict(checkpoint["model_state_dict"])
            optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
            scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
            assert checkpoint["epoch"] == t
            assert checkpoint["loss"] == train_loss
            assert math.isclose(scheduler.get_last_lr()[0], args.learning_rate * 0.9 ** (t + 1))
            assert test_loop(test_dataloader, model, loss_fn) == test_loss
            print(f"Resumed from the checkpoint of epoch {t + 1}")
    checkpoint_dir.cleanup()
    print("Done!")
    print(f"RESULT loss={test_loss:.4f}")


if __name__ == "__main__":
    main()
