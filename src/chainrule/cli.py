"""The `chainrule` command: parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys


def _survey(args: argparse.Namespace) -> int:
    import chainrule as cr

    def f(x1: cr.Tensor, x2: cr.Tensor) -> cr.Tensor:
        return cr.log(x1) + x1 * x2 - cr.sin(x2)

    x1 = cr.tensor(args.x1, dtype=cr.float64)
    x2 = cr.tensor(args.x2, dtype=cr.float64)
    trace = getattr(cr, "evaluation_trace", None)
    if trace is not None:
        print(trace(f, x1, x2, wrt=args.wrt))
    else:
        y, grads = cr.value_and_grad(f, argnums=(0, 1))(x1, x2)
        print(f"y = {y.item():.3f}; gradient = ({grads[0].item():.3f}, {grads[1].item():.3f})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: a deep-learning framework on NumPy with reverse- and "
        "forward-mode automatic differentiation.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    trace = sub.add_parser(
        "trace",
        help="print the evaluation trace (primal, tangent, adjoint) of the AD survey's example "
        "f(x1, x2) = ln(x1) + x1*x2 - sin(x2)",
    )
    trace.add_argument("--x1", type=float, default=2.0, help="value of x1 (default 2)")
    trace.add_argument("--x2", type=float, default=5.0, help="value of x2 (default 5)")
    trace.add_argument("--wrt", type=int, default=0, choices=(0, 1),
                       help="input of the forward tangent trace (default 0)")
    trace.set_defaults(run=_survey)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `chainrule` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from chainrule import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
