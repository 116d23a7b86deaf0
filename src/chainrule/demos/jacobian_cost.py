"""The cost of a Jacobian of f: R^n -> R^m: finite differences n+1 (central 2n) evaluations,
forward mode n passes (one per input direction), reverse mode m passes (one per output).

Every pass is counted, and timed over a grid of n and m: forward mode wins when n < m, reverse
mode when n > m (the crossover the AD survey lecture states: n ops(f) against m ops(f)).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.demos._plot import figure, save

SIZES = (1, 2, 4, 8, 16, 32, 64)


def _problem(n: int, m: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    """f(x) = tanh(B tanh(A x)) with A (16, n), B (m, 16), float64; and a point x."""
    rng = np.random.default_rng(seed)
    a = cr.tensor(rng.standard_normal((16, n)) / np.sqrt(n))
    b = cr.tensor(rng.standard_normal((m, 16)) / 4.0)

    def f(x: cr.Tensor) -> cr.Tensor:
        return cr.tanh(b @ cr.tanh(a @ x))

    return f, rng.standard_normal(n)


def jacobians(n: int, m: int) -> dict[str, dict[str, Any]]:
    """The m x n Jacobian four ways, each with its count of evaluations or passes and its time."""
    f, x0 = _problem(n, m)
    x, eye_n, eye_m = cr.tensor(x0), np.eye(n), np.eye(m)
    res: dict[str, dict[str, Any]] = {}
    h = {"fd one-sided": np.sqrt(np.finfo(float).eps), "fd central": np.finfo(float).eps ** (1 / 3)}

    for name in ("fd one-sided", "fd central"):
        t0, calls = time.perf_counter(), 0

        def ev(v: np.ndarray) -> np.ndarray:
            nonlocal calls
            calls += 1
            with cr.no_grad():
                return f(cr.tensor(v)).numpy(force=True)

        if name == "fd one-sided":
            fx = ev(x0)
            cols = [(ev(x0 + h[name] * e) - fx) / h[name] for e in eye_n]
        else:
            cols = [(ev(x0 + h[name] * e) - ev(x0 - h[name] * e)) / (2 * h[name]) for e in eye_n]
        res[name] = {"jacobian": np.stack(cols, 1), "passes": calls,
                     "seconds": time.perf_counter() - t0}

    t0 = time.perf_counter()
    # one pass per column
    cols = [cr.jvp(f, (x,), (cr.tensor(e),))[1].numpy(force=True) for e in eye_n]
    res["forward mode"] = {"jacobian": np.stack(cols, 1), "passes": len(cols),
                           "seconds": time.perf_counter() - t0}

    t0 = time.perf_counter()
    _, pullback = cr.vjp(f, x)  # one recorded forward evaluation, then one reverse pass per row
    rows = [pullback(cr.tensor(e))[0].numpy(force=True) for e in eye_m]
    res["reverse mode"] = {"jacobian": np.stack(rows, 0), "passes": len(rows),
                           "seconds": time.perf_counter() - t0}
    return res


def run(out: Path) -> dict[str, Any]:
    """Pass counts and times over the grid; returns them with the largest disagreement."""
    grid: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
    worst = 0.0
    for n in SIZES:
        for m in SIZES:
            runs = [jacobians(n, m) for _ in range(3)]  # best of 3: the machine is shared
            r = runs[0]
            for k in r:
                r[k]["seconds"] = min(run_[k]["seconds"] for run_ in runs)
            exact = r["reverse mode"]["jacobian"]
            worst = max(worst, float(np.abs(r["forward mode"]["jacobian"] - exact).max()))
            grid[n, m] = {k: {"passes": v["passes"], "seconds": v["seconds"]}
                          for k, v in r.items()}
    print("passes for the Jacobian of f: R^n -> R^m")
    print(f"  {'n':>3} {'m':>3}  {'fd one-sided':>12} {'fd central':>10} {'forward':>8} "
          f"{'reverse':>8}   faster mode")
    for (n, m), r in grid.items():
        if n in (1, 8, 64) and m in (1, 8, 64):
            faster = ("forward" if r["forward mode"]["seconds"] < r["reverse mode"]["seconds"]
                      else "reverse")
            print(f"  {n:3d} {m:3d}  {r['fd one-sided']['passes']:12d} "
                  f"{r['fd central']['passes']:10d} {r['forward mode']['passes']:8d} "
                  f"{r['reverse mode']['passes']:8d}   {faster}")
    print(f"forward and reverse Jacobians agree to {worst:.1e}")

    ratio = np.array([[grid[n, m]["forward mode"]["seconds"] / grid[n, m]["reverse mode"]
                       ["seconds"] for m in SIZES] for n in SIZES])
    fig, axes = figure(3, size=(4.6, 4.0), title="Jacobian of f: R^n → R^m: forward mode costs "
                       "n passes, reverse mode m, finite differences n+1 (central 2n);\n"
                       "forward wins for n < m, reverse for n > m")
    ax = axes[0]
    for key, c in (("fd central", "C2"), ("forward mode", "C0"), ("reverse mode", "C1")):
        ax.loglog(SIZES, [grid[n, 8][key]["seconds"] * 1e3 for n in SIZES], "o-", color=c,
                  label=key)
    ax.set(xlabel="inputs n (outputs m = 8)", ylabel="time (ms)", title="time against n")
    ax.legend(fontsize=8)
    ax = axes[1]
    for key, c in (("fd central", "C2"), ("forward mode", "C0"), ("reverse mode", "C1")):
        ax.loglog(SIZES, [grid[8, m][key]["seconds"] * 1e3 for m in SIZES], "o-", color=c,
                  label=key)
    ax.set(xlabel="outputs m (inputs n = 8)", ylabel="time (ms)", title="time against m")
    ax.legend(fontsize=8)
    ax = axes[2]
    im = ax.imshow(np.log2(ratio), origin="lower", cmap="coolwarm", vmin=-6, vmax=6)
    ticks = range(len(SIZES))
    ax.set(xticks=ticks, xticklabels=SIZES, yticks=ticks, yticklabels=SIZES, xlabel="outputs m",
           ylabel="inputs n", title="log2(time forward / time reverse)")
    ax.plot([0, len(SIZES) - 1], [0, len(SIZES) - 1], "k--", lw=1, label="n = m")
    ax.legend(fontsize=8, loc="upper left")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return {"grid": grid, "max_disagreement": worst,
            "figures": [save(fig, out, "jacobian_cost.png")]}
