"""A custom autograd Function in a training loop, as in PyTorch's "Learning PyTorch with examples".

P3(x) = (5x^3 - 3x) / 2, the Legendre polynomial of degree 3, is a torch.autograd.Function
with its own backward, dP3/dx = 1.5 (5x^2 - 1). We fit y = sin(x) with y = a + b P3(c + d x),
a hand-written gradient-descent loop. From "Extending torch.autograd": MyReLU (backward with a
mask), LinearFunction (forward and setup_context apart, optional bias, ctx.needs_input_grad) inside
an nn.Module trained with an optimizer, and MulConstant (a non-tensor argument, whose gradient is
None); torch.autograd.gradcheck verifies the backward formulas in float64.

    python examples/torch/tutorial_custom_function.py
    python -m chainrule.torch examples/torch/tutorial_custom_function.py
"""

import argparse
import math

import numpy as np
import torch
from torch import nn


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class LinearFunction(torch.autograd.Function):
    """y = x W^T + b, with forward and setup_context apart (the PyTorch 2 style)."""

    @staticmethod
    def forward(input, weight, bias):
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias = inputs
        ctx.save_for_backward(input, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


class MulConstant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        # one gradient per forward argument: None for the non-tensor constant
        return grad_output * ctx.constant, None


class Linear(nn.Module):
    def __init__(self, input_features, output_features, bias=True):
        super().__init__()
        self.input_features = input_features
        self.output_features = output_features
        self.weight = nn.Parameter(torch.empty(output_features, input_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(output_features))
        else:
            self.register_parameter("bias", None)
        nn.init.uniform_(self.weight, -0.1, 0.1)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -0.1, 0.1)

    def forward(self, input):
        return LinearFunction.apply(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"input_features={self.input_features}, "
                f"output_features={self.output_features}, bias={self.bias is not None}")


def check_functions():
    x = torch.randn(6, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(LegendrePolynomial3.apply, (x,), eps=1e-6, atol=1e-4)
    w = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    b = torch.randn(3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, b), eps=1e-6, atol=1e-4)
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, None), eps=1e-6, atol=1e-4)
    y = MulConstant.apply(x, 2.5)
    y.backward(torch.ones_like(y))
    assert torch.allclose(x.grad, torch.full_like(x, 2.5))

    w = torch.randn(4, 3, requires_grad=True)
    inp = torch.randn(8, 4)
    MyReLU.apply(inp @ w).sum().backward()
    mine = w.grad.clone()
    w.grad = None
    torch.relu(inp @ w).sum().backward()
    assert torch.allclose(mine, w.grad)
    print("custom Functions: backward agrees with gradcheck and with torch.relu")


def fit_linear_regression(steps):
    """Least squares with the custom Linear layer: the optimum does not depend on the start."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(256, 5)).astype(np.float32)
    targets = inputs @ rng.normal(size=(5, 2)) + 0.5 + 0.3 * rng.normal(size=(256, 2))
    x, y = torch.from_numpy(inputs), torch.tensor(targets, dtype=torch.float32)
    model = nn.Sequential(Linear(5, 2))
    print(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=5e-6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    check_functions()

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    # Initial weights close enough to the answer for the fit to converge (as the tutorial's).
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)

    for t in range(args.steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t == 0:
            print(f"FIRST loss={loss.item():.4f}")
        if t % 500 == 499:
            print(t, loss.item())
        loss.backward()
        with torch.no_grad():
            a -= args.lr * a.grad
            b -= args.lr * b.grad
            c -= args.lr * c.grad
            d -= args.lr * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    print(f"Result: y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")
    linear_loss = fit_linear_regression(200)
    print(f"RESULT loss={loss.item():.4f} linear_loss={linear_loss:.4f}")


if __name__ == "__main__":
    main()
