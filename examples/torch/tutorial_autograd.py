"""Tensors and autograd as PyTorch's tutorials teach them, then a polynomial fitted three ways.

Part 1 ("Tensors"): creation, indexing, joining, arithmetic, in-place ops, the NumPy bridge.
Part 2 ("Automatic differentiation with torch.autograd"): a one-layer network, requires_grad,
backward, .grad, grad_fn, torch.no_grad, detach, accumulating gradients.
Part 3 ("Learning PyTorch with examples"): fit y = sin(x) on [-pi, pi] with
a + b x + c x^2 + d x^3: with bare tensors, updating in place under no_grad
(``w -= lr * w.grad``, then ``w.grad.zero_()``); with nn.Sequential and nn.MSELoss, updating
``model.parameters()`` by hand; and with torch.optim.RMSprop.

    python examples/torch/tutorial_autograd.py
    python -m chainrule.torch examples/torch/tutorial_autograd.py
"""

import argparse
import math

import numpy as np
import torch


def tensor_basics():
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_np = torch.from_numpy(np.array(data))
    assert torch.equal(x_data, x_np)
    assert x_data.dtype == torch.int64
    x_ones = torch.ones_like(x_data)
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    assert x_ones.sum().item() == 4
    assert x_rand.min() >= 0
    assert x_rand.max() < 1
    shape = (2, 3)
    for t in (torch.rand(shape), torch.ones(shape), torch.zeros(shape)):
        assert t.shape == torch.Size([2, 3])
        assert t.dtype == torch.float32
    assert torch.rand(3, 4).device.type == "cpu"

    tensor = torch.ones(4, 4)
    tensor[:, 1] = 0
    assert tensor[0].tolist() == [1, 0, 1, 1]
    assert tensor[..., -1].sum() == 4
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    assert t1.shape == (4, 12)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    assert torch.equal(y1, y2)
    assert torch.equal(y1, y3)
    z1 = tensor * tensor
    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    assert torch.equal(z1, tensor.mul(tensor))
    assert torch.equal(z1, z3)
    agg = tensor.sum()
    assert isinstance(agg.item(), float)
    assert agg.item() == 12.0
    tensor.add_(5)
    assert tensor[0, 1] == 5

    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)  # the tensor and the array share memory
    assert n[0] == 2
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    assert t[0] == 2
    assert t.dtype == torch.float64
    print("tensor basics: as in the tutorial")


def autograd_basics():
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    loss.backward()
    # d loss / d z = (sigmoid(z) - y) / 3, and z = x @ w + b with x all ones
    expected = (torch.sigmoid(z.detach()) - y) / 3
    assert torch.allclose(b.grad, expected, atol=1e-6)
    assert torch.allclose(w.grad, expected.expand(5, 3), atol=1e-6)

    z = torch.matmul(x, w) + b
    assert z.requires_grad
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    assert not z.requires_grad
    z_det = (torch.matmul(x, w) + b).detach()
    assert not z_det.requires_grad
    assert z_det.grad_fn is None

    # gradients accumulate until they are zeroed
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    out.backward(torch.ones_like(out))
    assert torch.allclose(inp.grad, 2 * first)
    inp.grad.zero_()
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out))
    assert torch.allclose(inp.grad, first)
    # "A Gentle Introduction to torch.autograd": a vector output needs an explicit gradient
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = torch.tensor([1.0, 1.0])
    Q.backward(gradient=external_grad)
    assert (9 * a**2 == a.grad).all()
    assert (-2 * b == b.grad).all()
    print("autograd basics: gradients as expected")


def finetune_head(steps=50):
    """Exclusion from the DAG: freeze a trained body, replace the head, train only the head."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    for param in model.parameters():
        param.requires_grad = False
    model[2] = torch.nn.Linear(8, 2)  # a new head: its parameters require grad by default
    frozen = model[0].weight.clone()
    optimizer = torch.optim.SGD(model[2].parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    assert model[0].weight.grad is None
    assert torch.equal(model[0].weight, frozen)
    assert model[2].weight.grad is not None
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["2.weight", "2.bias"]
    print("fine-tuning: only the new head trained")


def fit_polynomial_tensors(steps, lr):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    a = torch.randn((), requires_grad=True)
    b = torch.randn((), requires_grad=True)
    c = torch.randn((), requires_grad=True)
    d = torch.randn((), requires_grad=True)
    weights = (a, b, c, d)

    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t == 0:
            print(f"FIRST loss={loss.item():.4f}")
        if t % 1000 == 999:
            print(t, loss.item())
        loss.backward()
        with torch.no_grad():
            for w in weights:
                w -= lr * w.grad
                w.grad.zero_()
    print(f"Result: y = {a.item():.4f} + {b.item():.4f} x + {c.item():.4f} x^2 "
          f"+ {d.item():.4f} x^3")
    return loss.item()


def polynomial_features():
    """x and sin(x), and xx = (x, x^2, x^3) as a (2000, 3) tensor."""
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    return xx, y


def fit_polynomial_nn(steps, lr):
    xx, y = polynomial_features()
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1),
    )
    loss_fn = torch.nn.MSELoss(reduction="sum")
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 1000 == 999:
            print(t, loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad
    linear_layer = model[0]
    print(f"Result: y = {linear_layer.bias.item():.4f} + {linear_layer.weight[:, 0].item():.4f} x"
          f" + {linear_layer.weight[:, 1].item():.4f} x^2"
          f" + {linear_layer.weight[:, 2].item():.4f} x^3")
    return loss.item()


def fit_polynomial_optim(steps, lr):
    xx, y = polynomial_features()
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1),
    )
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr)
    for t in range(steps):
        loss = loss_fn(model(xx), y)
        if t % 1000 == 999:
            print(t, loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--lr", type=float, default=1e-6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    tensor_basics()
    autograd_basics()
    finetune_head()
    loss = fit_polynomial_tensors(args.steps, args.lr)
    nn_loss = fit_polynomial_nn(args.steps, args.lr)
    optim_loss = fit_polynomial_optim(3000, 1e-3)
    print(f"RESULT loss={loss:.4f} nn_loss={nn_loss:.4f} optim_loss={optim_loss:.4f}")


if __name__ == "__main__":
    main()
