"""Finite differences against step size: truncation error falls with h, round-off grows as 1/h.

On f = sin at x = 1 (f' = cos 1, from chainrule's reverse mode) in float64: the one-sided
difference has error ~ h/2 |f''| + eps/h, smallest near sqrt(eps); the central difference
~ h^2/6 |f'''| + eps/h, smallest near eps^(1/3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.demos._plot import figure, save

X0 = 1.0


def _slope(h: np.ndarray, err: np.ndarray, lo: float, hi: float) -> float:
    """Least-squares slope of log(err) against log(h) for lo <= h <= hi."""
    m = (h >= lo) & (h <= hi) & (err > 0)
    return float(np.polyfit(np.log10(h[m]), np.log10(err[m]), 1)[0])


def run(out: Path) -> dict[str, Any]:
    """Errors of both differences over h = 1e-16 ... 1; returns best h and the fitted slopes."""
    f = cr.sin
    exact = cr.grad(f)(cr.tensor(X0, dtype=cr.float64)).item()
    h = np.logspace(-16, 0, 321)
    x = cr.tensor(np.full_like(h, X0))
    fx, fp, fm = (f(v).numpy(force=True) for v in (x, x + cr.tensor(h), x - cr.tensor(h)))
    err = {"one-sided": np.abs((fp - fx) / h - exact),
           "central": np.abs((fp - fm) / (2 * h) - exact)}
    eps = float(np.finfo(np.float64).eps)
    ideal = {"one-sided": np.sqrt(eps), "central": eps ** (1 / 3)}
    res: dict[str, Any] = {"exact": exact, "eps": eps}
    for name, e in err.items():
        smooth = np.array([np.median(e[max(k - 8, 0):k + 9]) for k in range(e.size)])
        i = int(np.argmin(smooth))  # the running median ignores lucky cancellations
        res[name] = {
            "best_h": float(h[i]), "best_error": float(smooth[i]), "ideal_h": float(ideal[name]),
            "truncation_slope": _slope(h, e, 1e-4 if name == "one-sided" else 1e-3, 1e-1),
            "roundoff_slope": _slope(h, e, 1e-15, 1e-11),
        }
        r = res[name]
        print(f"{name:9s}: best h {r['best_h']:.2e} (ideal {r['ideal_h']:.2e}), error "
              f"{r['best_error']:.1e}; truncation slope {r['truncation_slope']:.2f}, round-off "
              f"slope {r['roundoff_slope']:.2f}")
    fig, (ax,) = figure(size=(7, 5), title="Finite differences: truncation error falls as h "
                        "(central: h²), round-off grows as 1/h;\nbest h near √eps (central: "
                        "eps^(1/3))")
    for (name, e), c in zip(err.items(), ("C0", "C1")):
        ax.loglog(h, np.maximum(e, 1e-18), color=c, label=f"{name} difference")
        ax.axvline(ideal[name], color=c, ls=":", lw=1)
        ax.plot(res[name]["best_h"], res[name]["best_error"], "o", color=c)
    ax.loglog(h, 0.5 * np.sin(X0) * h, "k--", lw=0.8, label="h/2·|f''| (truncation)")
    ax.loglog(h, np.cos(X0) * h ** 2 / 6, "k-.", lw=0.8, label="h²/6·|f'''| (truncation)")
    ax.loglog(h, eps / h, "k:", lw=0.8, label="eps/h (round-off)")
    ax.text(ideal["one-sided"], 3e-17, " √eps", color="C0")
    ax.text(ideal["central"], 3e-17, " eps^(1/3)", color="C1")
    ax.set(xlabel="step h", ylabel="|finite difference - f'(1)|", ylim=(1e-17, 10),
           title="f(x) = sin x at x = 1, float64")
    ax.legend(fontsize=8, loc="upper center")
    res["figures"] = [save(fig, out, "fd_error.png")]
    return res
