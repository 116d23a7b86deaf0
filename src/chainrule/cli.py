"""The `chainrule` command: parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys
import warnings


def _survey(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule.demos.expression import ExpressionError, as_function, bind, parse, parse_at

    try:
        expr = parse(args.expr)
        at = parse_at(args.at) if args.at else {"x1": args.x1, "x2": args.x2}
        names, xs = bind(expr, at)
        wrt = names.index(args.wrt) if args.wrt in names else int(args.wrt)
        if not 0 <= wrt < len(names):
            raise ExpressionError(f"--wrt {args.wrt}: no such input (inputs: {', '.join(names)})")
    except (ExpressionError, ValueError) as e:
        print(f"chainrule trace: error: {e}", file=sys.stderr)
        return 2
    f = as_function(expr, names)
    print(f"f({', '.join(names)}) = {expr.text}\n")
    print(cr.evaluation_trace(f, *xs, wrt=wrt, names=names))
    if args.graph:
        leaves = [x.detach().requires_grad_() for x in xs]
        cr.draw_graph(f(*leaves), args.graph, dict(zip(names, leaves)),
                      title=f"f({', '.join(names)}) = {expr.text}")
        print(f"\ngraph written to {args.graph}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from chainrule.demos import DEMOS, run_demo

    if args.list or not args.name:
        for name, (_, description) in DEMOS.items():
            print(f"{name:<24} {description}")
        return 0
    if args.name not in DEMOS:
        print(f"chainrule demo: error: no demo {args.name!r}; `chainrule demo --list` lists "
              "them", file=sys.stderr)
        return 2
    run_demo(args.name, args.out)
    return 0


def _default_device() -> str:
    """cuda when CuPy sees a GPU, else cpu (as a PyTorch script's usual choice)."""
    from chainrule import cuda

    return "cuda" if cuda.is_available() else "cpu"


def _train(args: argparse.Namespace) -> int:
    from chainrule.training import TrainConfig, train

    if args.device is not None:  # a device chainrule cannot use ends here, in one line
        from chainrule.device import as_device

        try:
            as_device(args.device, "--device")
        except RuntimeError as e:
            print(f"chainrule train: error: --device {args.device!r}: {e}", file=sys.stderr)
            return 2
    cfg = None
    if not args.resume:
        cfg = TrainConfig(
            model=args.model, data=args.data, data_dir=args.data_dir, epochs=args.epochs,
            batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
            scheduler=args.scheduler, seed=args.seed, hidden=tuple(args.hidden),
            weight_decay=args.weight_decay,
            out=args.out or f"runs/{args.data}-{args.model}-seed{args.seed}",
            checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
            threads=args.threads, dropout=args.dropout, activation=args.activation,
            compile=args.compile, device=args.device or _default_device(),
        )
    overrides = None
    if args.resume:  # options given with --resume: checked against the run's config
        from chainrule.config_check import explicit_options

        overrides = explicit_options(build_parser(), args.argv)
    from chainrule.training_distributed import launched_size, run_cli

    if args.distributed or launched_size() > 1:
        return run_cli(cfg, args.resume, args.dist_timeout, overrides=overrides,
                       allow_nan=args.allow_nan)
    result = train(cfg, resume=args.resume, overrides=overrides, allow_nan=args.allow_nan)
    print(f"test accuracy {result.test_accuracy:.4f} (loss {result.test_loss:.4f}) after "
          f"{result.epochs} epochs in {result.seconds:.1f} s; run folder {result.run_dir}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from chainrule.training import evaluate_run

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        loss, acc = evaluate_run(args.run_dir)
    for w in caught:  # NaN/Inf weights: one line each
        print(f"chainrule eval: warning: {w.message}", file=sys.stderr)
    print(f"test accuracy {acc:.4f} (loss {loss:.4f})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from chainrule.onnx.run import export_run

    try:
        print(f"wrote {export_run(args.run_dir, args.out)}")
    except (ImportError, NotImplementedError) as e:  # the onnx extra missing; an op unsupported
        print(f"chainrule export: error: {e}", file=sys.stderr)
        return 2
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    from chainrule.models import ACTIVATIONS
    from chainrule.training import DATASETS, OPTIMIZERS, SCHEDULERS, TrainConfig

    d = TrainConfig()
    parser = _Parser(
        prog="chainrule",
        description="chainrule: a deep-learning framework on NumPy with reverse- and "
        "forward-mode automatic differentiation.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    trace = sub.add_parser(
        "trace",
        help="print the evaluation trace (primal, tangent, adjoint) of an expression (default "
        "the AD survey's example f(x1, x2) = ln(x1) + x1*x2 - sin(x2))",
    )
    trace.add_argument("--expr", default="log(x1) + x1*x2 - sin(x2)",
                       help="expression of named scalar inputs: names, numbers, + - * / **, "
                       "and log exp sin cos tan tanh sigmoid relu softplus sqrt abs log1p")
    trace.add_argument("--at", default=None, metavar="NAME=V,...",
                       help="input values, e.g. x1=2,x2=5 (default: --x1 and --x2)")
    trace.add_argument("--x1", type=float, default=2.0, help="value of x1 (default 2)")
    trace.add_argument("--x2", type=float, default=5.0, help="value of x2 (default 5)")
    trace.add_argument("--wrt", default="0",
                       help="input (name or position) of the forward tangent trace (default 0)")
    trace.add_argument("--graph", default=None, metavar="FILE",
                       help="also draw the graph to FILE (.png or .svg)")
    trace.set_defaults(run=_survey)

    tr = sub.add_parser("train", help="train a model (default: an MLP on the bundled digits)")
    tr.add_argument("--model", default=d.model, help=f"model (default {d.model})")
    tr.add_argument("--data", default=d.data, help=f"one of {', '.join(DATASETS)} "
                    f"(default {d.data})")
    tr.add_argument("--data-dir", default=None, help="folder of the IDX files (mnist, fashion)")
    tr.add_argument("--epochs", type=int, default=d.epochs, help=f"(default {d.epochs})")
    tr.add_argument("--batch-size", type=int, default=None,
                    help="(default: the model's, 32 for mlp, 64 for the others)")
    tr.add_argument("--optimizer", default=d.optimizer, help=f"one of {', '.join(OPTIMIZERS)} "
                    f"(default {d.optimizer})")
    tr.add_argument("--lr", type=float, default=None,
                    help="learning rate (default: the model's, 0.01 for mlp, 0.003 for the others)")
    tr.add_argument("--weight-decay", type=float, default=d.weight_decay, help="(default 0)")
    tr.add_argument("--scheduler", default=d.scheduler, help=f"one of {', '.join(SCHEDULERS)} "
                    f"(default {d.scheduler})")
    tr.add_argument("--hidden", type=int, nargs="+", default=list(d.hidden),
                    help="hidden layer widths of the MLP (default "
                    f"{' '.join(map(str, d.hidden))}; 0: no hidden layer, i.e. multinomial "
                    "logistic regression)")
    tr.add_argument("--dropout", type=float, default=d.dropout,
                    help=f"dropout after each hidden layer of the MLP (default {d.dropout})")
    tr.add_argument("--activation", default=d.activation, metavar="NAME",
                    help=f"hidden activation of the MLP: {', '.join(ACTIVATIONS)} "
                    f"(default {d.activation})")
    tr.add_argument("--threads", type=int, default=d.threads,
                    help=f"BLAS threads (default {d.threads}: small models are fastest on one)")
    tr.add_argument("--compile", action=argparse.BooleanOptionalAction, default=d.compile,
                    help="record the training step once and replay it (cr.compile: the same "
                    f"numbers, faster; default {'on' if d.compile else 'off'})")
    tr.add_argument("--device", default=None, metavar="DEVICE",
                    help="cpu, cuda or cuda:N (default: cuda when CuPy sees a GPU, else cpu)")
    tr.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    tr.add_argument("--out", default=None, help="run folder (default runs/DATA-MODEL-seedN)")
    tr.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                    help=f"steps between mid-epoch checkpoints (default {d.checkpoint_every})")
    tr.add_argument("--resume", metavar="RUN_DIR", default=None,
                    help="continue the run in RUN_DIR from its last checkpoint (--epochs N "
                    "extends it; options that contradict the run's config are refused)")
    tr.add_argument("--allow-nan", action="store_true",
                    help="with --resume: continue even if the checkpoint holds NaN/Inf")
    tr.add_argument("--no-progress", action="store_true", help="print a line per epoch instead "
                    "of a progress bar")
    tr.add_argument("--distributed", action="store_true", help="train data-parallel on MPI "
                    "(implied under mpiexec -n N, N > 1; needs the mpi extra)")
    tr.add_argument("--dist-timeout", type=float, default=300.0, metavar="SECONDS",
                    help="longest wait for the other processes before failing (default 300)")
    tr.set_defaults(run=_train)

    ev = sub.add_parser("eval", help="re-evaluate a run's checkpoint on its test split")
    ev.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by chainrule train")
    ev.set_defaults(run=_eval)

    ex = sub.add_parser("export", help="export a run's trained model (ONNX; needs the onnx "
                        "extra: pip install chainrule[onnx])")
    ex.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by chainrule train")
    ex.add_argument("--format", choices=["onnx"], default="onnx", help="(default onnx)")
    ex.add_argument("--out", default=None, metavar="FILE",
                    help="output file (default RUN_DIR/model.onnx)")
    ex.set_defaults(run=_export)

    demo = sub.add_parser("demo", help="run a lecture demo: print its numbers, write its "
                          "figures (`chainrule demo --list` lists them)")
    demo.add_argument("name", nargs="?", metavar="NAME", help="the demo to run")
    demo.add_argument("--list", action="store_true", help="list the demos, one per line")
    demo.add_argument("--out", default="demos", help="folder for the figures (default demos/)")
    demo.set_defaults(run=_demo)
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
    from chainrule.training import TrainError

    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return args.run(args)
    except TrainError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
