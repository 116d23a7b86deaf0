"""Baydin et al.'s AD survey example: f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5).

Prints the survey's three tables (forward primal, forward tangent for dy/dx1, reverse adjoint)
as chainrule records and differentiates them; ``--dot`` prints the graph as Graphviz DOT
instead (``python examples/survey_trace.py --dot | dot -Tsvg > graph.svg``).
"""

import sys

import chainrule as cr


def f(x1: cr.Tensor, x2: cr.Tensor) -> cr.Tensor:
    """The survey's function, one elementary operation per line in the survey's order.

    (Written as one expression, Python would compute ln(x1) + x1*x2 before sin(x2) and the
    trace would number the ops in that order instead.)
    """
    v1 = cr.log(x1)
    v2 = x1 * x2
    v3 = cr.sin(x2)
    v4 = v1 + v2
    return v4 - v3


if __name__ == "__main__":
    x1, x2 = cr.tensor(2.0, dtype=cr.float64), cr.tensor(5.0, dtype=cr.float64)
    if "--dot" in sys.argv[1:]:
        print(cr.to_dot(f(x1.requires_grad_(), x2.requires_grad_())), end="")
    else:
        y, (g1, g2) = cr.value_and_grad(f, argnums=(0, 1))(x1, x2)
        print(f"y = {y.item():.3f}, dy/dx1 = {g1.item():.3f}, dy/dx2 = {g2.item():.3f}\n")
        print(cr.evaluation_trace(f, x1, x2, wrt=0))
