"""A variational autoencoder on the 8x8 digits, in the style of PyTorch's VAE example.

The encoder gives the mean and log-variance of q(z|x); a sample z = mu + std * eps
(the reparameterization trick) keeps the path from the loss to the encoder differentiable; the
decoder gives Bernoulli pixel probabilities. Loss: binary cross-entropy + KL(q(z|x) || N(0, I)),
summed over pixels and averaged over images (the negative ELBO). Adam.

    python examples/torch/vae.py
    python -m chainrule.torch examples/torch/vae.py
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, n_pixels=64, hidden=128, latent=8):
        super().__init__()
        self.fc1 = nn.Linear(n_pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, n_pixels)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Negative ELBO summed over the batch: reconstruction BCE + KL divergence to N(0, I)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    # KL(N(mu, sigma^2) || N(0, 1)) = -0.5 * sum(1 + log sigma^2 - mu^2 - sigma^2)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld, bce, kld


def run_epoch(model, loader, optimizer=None):
    """One pass (training when an optimizer is given); mean loss, BCE and KL per image."""
    model.train(optimizer is not None)
    totals = torch.zeros(3)
    with torch.set_grad_enabled(optimizer is not None):
        for (data,) in loader:
            recon, mu, logvar = model(data)
            loss, bce, kld = loss_function(recon, data, mu, logvar)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            totals += torch.stack([loss.detach(), bce.detach(), kld.detach()])
    return (totals / len(loader.dataset)).tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)  # (1797, 64) in [0, 1]
    order = np.random.default_rng(0).permutation(len(pixels))
    test_x, train_x = pixels[order[:360]], pixels[order[360:]]
    train_loader = DataLoader(TensorDataset(torch.from_numpy(train_x)),
                              batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(test_x)), batch_size=360)

    model = VAE(latent=args.latent)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    print(f"FIRST loss={run_epoch(model, test_loader)[0]:.4f}")
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        train_loss, _, _ = run_epoch(model, train_loader, optimizer)
        test_loss, test_bce, test_kld = run_epoch(model, test_loader)
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:2d}: train loss {train_loss:.2f}, test loss {test_loss:.2f} "
                  f"(bce {test_bce:.2f}, kl {test_kld:.2f}) {time.time() - start:.1f}s")

    with torch.no_grad():  # decode a few points of the prior: samples are valid probabilities
        sample = model.decode(torch.randn(16, args.latent))
        assert sample.shape == (16, 64)
        assert sample.min() >= 0
        assert sample.max() <= 1
    print(f"RESULT loss={test_loss:.4f} bce={test_bce:.4f} kld={test_kld:.4f}")


if __name__ == "__main__":
    main()
