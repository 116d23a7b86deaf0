"""The lectures, runnable: one small module per demo, each printing its numbers and figures.

``DEMOS`` maps a demo's name to (module, one-line description naming its lecture); modules load
only when their demo runs. Each module has ``run(out: Path) -> dict`` returning its numbers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

DEMOS: dict[str, tuple[str, str]] = {
    "graph": ("graph", "AD survey lecture: the graph of ln(x1) + x1*x2 - sin(x2), nodes v-1..v5 "
              "with values and adjoints"),
    "fd-error": ("fd_error", "AD survey lecture: finite-difference error against step h, "
                 "truncation vs round-off, best h near sqrt(eps) and eps^(1/3)"),
    "jacobian-cost": ("jacobian_cost", "AD survey lecture: Jacobian of R^n -> R^m by finite "
                      "differences (n+1), forward mode (n passes), reverse mode (m passes)"),
    "xor": ("xor", "representation-learning lecture: 1-D and 2-D XOR, a linear model fails, "
            "one hidden layer succeeds"),
    "universal-approximation": ("universal", "Kolter's deep-learning lecture: sum of +-max(0, "
                                "w x + b) through chosen knots, error falling with units"),
    "activations": ("activations", "modular-learning lecture: activations and derivatives; "
                    "vanishing gradients in deep sigmoid / tanh / ReLU nets"),
    "rnn-gradients": ("rnn_gradients", "deep-learning lecture (special architectures): "
                      "||dh_T/dh_0|| ~ rho^T for spectral radius below, at, above 1; clipping"),
    "cnn-properties": ("cnn_properties", "deep-learning lecture (special architectures): "
                       "translation equivariance, not rotation; max-pool invariance; "
                       "receptive field 1 + 2*depth"),
    "echo-state": ("echo_state", "deep-learning lecture (special architectures): a fixed "
                   "reservoir, a trained readout; the spectral radius effect"),
    "optimizers": ("optimizers", "Kolter's deep-learning lecture: GD vs SGD vs minibatch SGD "
                   "(and momentum, Adam) on the same problem"),
    "spirals": ("spirals", "representation-learning lecture: an MLP's decision boundary on two "
                "spirals as training proceeds"),
}


def run_demo(name: str, out: str | Path = "demos") -> dict[str, Any]:
    """Run one demo, writing its figures under ``out``; returns its numbers."""
    if name not in DEMOS:
        raise KeyError(f"no demo {name!r}; demos: {', '.join(DEMOS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"chainrule.demos.{DEMOS[name][0]}")
    print(f"== {name}: {DEMOS[name][1]}")
    return module.run(out)
