"""Baydin et al.'s AD survey example: f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5)."""

import chainrule as cr


def f(x1: cr.Tensor, x2: cr.Tensor) -> cr.Tensor:
    """The survey's function."""
    return cr.log(x1) + x1 * x2 - cr.sin(x2)


if __name__ == "__main__":
    x1, x2 = cr.tensor(2.0, dtype=cr.float64), cr.tensor(5.0, dtype=cr.float64)
    y, (g1, g2) = cr.value_and_grad(f, argnums=(0, 1))(x1, x2)
    print(f"y = {y.item():.3f}, dy/dx1 = {g1.item():.3f}, dy/dx2 = {g2.item():.3f}")
