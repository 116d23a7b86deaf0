"""Loaded by both interpreters of run_examples.py: a non-interactive matplotlib whose pause()
draws without sleeping (examples animate with plt.pause(1/60) and end with plt.pause(10)), and
NumPy's global generator seeded (some examples draw from it unseeded)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def _pause(interval: float) -> None:
        manager = plt.get_current_fig_manager() if plt.get_fignums() else None
        if manager is not None:
            manager.canvas.draw_idle()

    plt.pause = _pause
except ImportError:
    pass

try:  # examples that draw from NumPy's global generator unseeded draw the same in both runs
    import numpy as _np

    _np.random.seed(0)  # noqa: NPY002 (the examples use the legacy global generator)
except ImportError:
    pass

if os.environ.get("PARITY_PERTURB"):
    # The control run of run_examples.py: autograd with every random draw moved by one ulp, to
    # show how far rounding-level differences alone carry an example's printed numbers.
    import numpy as _np

    _DRAWS = ("randn", "rand", "normal", "uniform", "standard_normal")

    def _nudge(x):
        return _np.nextafter(x, _np.inf) if isinstance(x, _np.ndarray | float) else x

    class _NudgedRandomState(_np.random.RandomState):
        pass

    def _nudged(draw):
        def nudged(*a, **k):
            return _nudge(draw(*a, **k))

        return nudged

    for _name in _DRAWS:
        setattr(_NudgedRandomState, _name, _nudged(getattr(_np.random.RandomState, _name)))
        setattr(_np.random, _name, _nudged(getattr(_np.random, _name)))
    _np.random.RandomState = _NudgedRandomState
