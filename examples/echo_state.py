"""An echo-state network predicts the chaotic Mackey-Glass series one step ahead.

The lecture's remedy for exploding and vanishing gradients in recurrent networks: fix the
recurrent weights at random, scaled to a spectral radius below one, and train only the linear
readout. Here the readout is fitted twice: in closed form by ridge regression, and by Adam on
the (fixed) reservoir states. Both reach a small normalized error on unseen data.
"""

import argparse

import numpy as np

import chainrule as cr
import chainrule.nn as nn


def mackey_glass(n: int, tau: int = 17, dt: float = 0.1, seed: int = 0) -> np.ndarray:
    """x' = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t) by Euler steps, sampled every 1."""
    rng = np.random.default_rng(seed)
    sub = round(1 / dt)
    lag = round(tau / dt)
    hist = list(1.2 + 0.1 * rng.standard_normal(lag + 1))
    out = []
    for k in range((n + 200) * sub):  # 200 time units of transient dropped
        x, xl = hist[-1], hist[-1 - lag]
        hist.append(x + dt * (0.2 * xl / (1 + xl**10) - 0.1 * x))
        if k % sub == 0:
            out.append(hist[-1])
        if len(hist) > 2 * lag + 2:
            del hist[: lag]
    return np.asarray(out[200:], dtype=np.float64)


def nrmse(pred: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error divided by the target's standard deviation."""
    return float(np.sqrt(np.mean((pred - target) ** 2)) / target.std())


def main(reservoir: int = 300, train: int = 1500, test: int = 500, steps: int = 1500,
         seed: int = 0) -> tuple[float, float]:
    """Fit the readout by ridge regression and by Adam; returns both test NRMSEs."""
    cr.manual_seed(seed)
    series = mackey_glass(train + test + 1, seed=seed).astype(np.float32)
    u = (series[:-1] - 0.9)[:, None]  # input x(t), centred
    y = series[1:, None]  # target x(t + 1)
    esn = nn.EchoState(1, reservoir, 1, spectral_radius=0.9, leak=0.5, input_scaling=1.0,
                       sparsity=0.9, bias_scaling=0.2, seed=seed)
    washout = 100
    mse = esn.fit_readout(u[:train], y[:train], ridge=1e-7, washout=washout)
    with cr.no_grad():
        pred = esn(u).numpy()  # run over train and test: the state carries on into the test
    err_ridge = nrmse(pred[train:], y[train:])
    print(f"ridge readout: train mse {mse:.2e}, test nrmse {err_ridge:.4f}")

    # the same readout trained by gradient descent on the fixed states
    with cr.no_grad():
        states = esn.states(u)
    s_train, y_train = states[washout:train], cr.tensor(y[washout:train])
    esn.readout.reset_parameters()
    opt = cr.optim.Adam(esn.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    for step in range(steps):
        loss = loss_fn(esn.readout(s_train), y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0:
            print(f"adam step {step:5d}  train mse {loss.item():.2e}")
    with cr.no_grad():
        pred = esn.readout(states[train:]).numpy()
    err_sgd = nrmse(pred, y[train:])
    print(f"adam readout: test nrmse {err_sgd:.4f}")
    return err_ridge, err_sgd


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reservoir", type=int, default=300)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(reservoir=a.reservoir, steps=a.steps, seed=a.seed)
