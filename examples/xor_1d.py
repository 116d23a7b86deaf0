"""The lecture's one-dimensional analogue of XOR: class 1 inside |x| < 1, class 0 outside.

No linear classifier separates it; one hidden layer of ReLUs does (two kinks suffice).
"""

import argparse

import chainrule as cr
import chainrule.nn as nn


def main(epochs: int = 200, seed: int = 0) -> float:
    """Fit a 1-8-2 ReLU network with full-batch Adam; returns the test accuracy."""
    cr.manual_seed(seed)
    train_x, train_y = cr.datasets.xor(n=256, seed=seed).tensors
    test_x, test_y = cr.datasets.xor(n=256, seed=seed + 1).tensors
    model = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        loss = loss_fn(model(train_x), train_y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 50 == 0:
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}")
    with cr.no_grad():
        acc = float((model(test_x).argmax(axis=-1) == test_y).numpy().mean())
    print(f"test accuracy {acc:.3f}")
    return acc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.epochs, a.seed)
