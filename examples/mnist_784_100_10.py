"""The 784-100-10 network of the lecture's framework snippet, trained on MNIST.

The lecture writes it with explicit variables (columns are samples):
    z1 = relu(W1 x + b1);  z2 = W2 z1 + b2;  l = softmax_cross_entropy(z2, y)
and asks the framework for the gradients of l with respect to [W1, b1, W2, b2].
Here `cr.value_and_grad` plays the role of `tf.gradients`, and minibatch SGD does the rest.
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def loss_fn(W1, b1, W2, b2, x, y):
    """Mean softmax cross-entropy of the two-layer network on a batch (columns are samples)."""
    z1 = cr.relu(W1 @ x + b1)
    z2 = W2 @ z1 + b2
    return -(y * cr.log_softmax(z2, axis=0)).sum() / x.shape[1]


def main(root: Path, epochs: int = 3, max_steps: int | None = None, seed: int = 0) -> float:
    """Train with minibatch SGD (batch 64, lr 0.1); returns the test accuracy."""
    rng = np.random.default_rng(seed)
    train_x, train_y = (t.numpy() for t in cr.datasets.mnist(root, "train").tensors)
    test_x, test_y = (t.numpy() for t in cr.datasets.mnist(root, "test").tensors)
    X = train_x.reshape(len(train_x), 784).T  # (784, m), a column per sample
    Y = np.eye(10, dtype=np.float32)[train_y].T  # one-hot columns
    params = [  # He-style initialization (the snippet's zeros would never break symmetry)
        (rng.standard_normal((100, 784)) * np.sqrt(2 / 784)).astype(np.float32),
        np.zeros((100, 1), np.float32),
        (rng.standard_normal((10, 100)) * np.sqrt(2 / 100)).astype(np.float32),
        np.zeros((10, 1), np.float32),
    ]
    step_fn = cr.value_and_grad(loss_fn, argnums=(0, 1, 2, 3))
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(X.shape[1])
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss, grads = step_fn(*params, X[:, idx], Y[:, idx])
            for p, g in zip(params, grads):
                p -= 0.1 * g.numpy()
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")
        if max_steps is not None and step >= max_steps:
            break
    W1, b1, W2, b2 = params
    Xt = test_x.reshape(len(test_x), 784).T
    pred = (W2 @ np.maximum(W1 @ Xt + b1, 0) + b2).argmax(axis=0)
    acc = float((pred == test_y).mean())
    print(f"test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_ROOT)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=None, help="stop early (smoke tests)")
    a = p.parse_args()
    if not a.data_dir.is_dir():
        raise SystemExit(f"MNIST not found in {a.data_dir}; pass --data-dir")
    main(a.data_dir, a.epochs, a.max_steps)
