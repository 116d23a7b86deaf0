"""Backpropagation written by hand in NumPy (the lecture's dZ, dW, db equations) next to
chainrule's reverse mode, for a two-layer network with a softmax cross-entropy loss.

Columns are samples, as in the lecture: X is (d, m), W1 is (d1, d), b1 is (d1, 1).
"""

import numpy as np

import chainrule as cr


def by_hand(X, Y, W1, b1, W2, b2):
    """Forward pass, then the lecture's backward equations; returns the loss and gradients."""
    m = X.shape[1]
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)  # g[1] = ReLU
    Z2 = W2 @ A1 + b2
    Z2s = Z2 - Z2.max(axis=0, keepdims=True)
    A2 = np.exp(Z2s) / np.exp(Z2s).sum(axis=0, keepdims=True)  # softmax
    loss = -np.sum(Y * np.log(A2)) / m
    dZ2 = A2 - Y  # dZ[2] = A[2] - Y
    dW2 = dZ2 @ A1.T / m  # dW[2] = 1/m dZ[2] A[1]^T
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)  # dZ[1] = W[2]^T dZ[2] * g[1]'(Z[1])
    dW1 = dZ1 @ X.T / m  # dW[1] = 1/m dZ[1] X^T
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return loss, (dW1, db1, dW2, db2)


def loss_fn(W1, b1, W2, b2, X, Y):
    """The same network and loss written with chainrule ops (the backward pass is automatic)."""
    Z1 = W1 @ X + b1
    A1 = cr.relu(Z1)
    Z2 = W2 @ A1 + b2
    return -(Y * cr.log_softmax(Z2, axis=0)).sum() / X.shape[1]


def main() -> None:
    """Compare the two on random data in float64."""
    rng = np.random.default_rng(0)
    d, d1, k, m = 20, 16, 5, 32
    X = rng.standard_normal((d, m))
    Y = np.eye(k)[rng.integers(0, k, m)].T
    params = [rng.standard_normal(s) * 0.3 for s in [(d1, d), (d1, 1), (k, d1), (k, 1)]]

    loss, grads = by_hand(X, Y, *params)
    value, auto = cr.value_and_grad(loss_fn, argnums=(0, 1, 2, 3))(*params, X, Y)
    print(f"loss: by hand {loss:.10f}, chainrule {value.item():.10f}")
    for name, g, a in zip(["dW1", "db1", "dW2", "db2"], grads, auto):
        err = np.abs(g - a.numpy()).max()
        print(f"{name}: shape {g.shape}, max |hand - chainrule| = {err:.2e}")
        assert err < 1e-12, name
    print("hand-written backpropagation and chainrule's reverse mode agree")


if __name__ == "__main__":
    main()
