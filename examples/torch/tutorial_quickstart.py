"""PyTorch's "Quickstart" tutorial, on the 8x8 digits bundled with scikit-learn.

Data in a TensorDataset behind a DataLoader, an nn.Module holding an nn.Sequential (looked at as
in "Build the Neural Network": a forward pass, softmax, named_parameters), cross-entropy, SGD,
train and test loops with model.train() / model.eval(), then the weights saved with
torch.save(model.state_dict(), path) and loaded into a fresh model that predicts the same.

    python examples/torch/tutorial_quickstart.py
    python -m chainrule.torch examples/torch/tutorial_quickstart.py
"""

import argparse
import os
import tempfile

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def inspect_model(model):
    X = torch.rand(3, 8, 8, device=device)
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")
    assert logits.shape == (3, 10)
    assert torch.allclose(pred_probab.sum(1), torch.ones(3))

    input_image = torch.rand(3, 8, 8)
    flat_image = nn.Flatten()(input_image)
    hidden1 = nn.ReLU()(nn.Linear(in_features=8 * 8, out_features=20)(flat_image))
    assert flat_image.size() == torch.Size([3, 64])
    assert hidden1.size() == (3, 20)
    assert hidden1.min() >= 0

    print(f"Model structure: {model}\n")
    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n_params == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10


def train(dataloader, model, loss_fn, optimizer, first):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        pred = model(X)
        loss = loss_fn(pred, y)

        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if first and batch == 0:
            print(f"FIRST loss={loss.item():.4f}")
        if batch % 20 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)  # N,1,8,8
    labels = torch.from_numpy(digits.target.astype(np.int64))
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(labels)))
    test_idx, train_idx = order[:360], order[360:]
    training_data = TensorDataset(images[train_idx], labels[train_idx])
    test_data = TensorDataset(images[test_idx], labels[test_idx])

    train_dataloader = DataLoader(training_data, batch_size=args.batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=args.batch_size)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    print(f"Using {device} device")
    model = NeuralNetwork().to(device)
    print(model)
    inspect_model(model)
    # Label smoothing keeps the test loss from hinging on a few confidently wrong images.
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    for t in range(args.epochs):
        print(f"Epoch {t + 1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer, first=t == 0)
        test_loss, accuracy = test(test_dataloader, model, loss_fn)
    print("Done!")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pth")
        torch.save(model.state_dict(), path)
        print("Saved PyTorch Model State to model.pth")
        model2 = NeuralNetwork().to(device)
        model2.load_state_dict(torch.load(path, weights_only=True))

    model.eval()
    model2.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        assert torch.equal(model(test_data[:][0]), model2(test_data[:][0]))
        pred = model2(x.unsqueeze(0))
        print(f'Predicted: "{pred[0].argmax(0).item()}", Actual: "{y.item()}"')
    print(f"RESULT loss={test_loss:.4f} accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
