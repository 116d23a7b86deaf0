"""Figures for the demos: matplotlib without pyplot state, saved as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 4.0),
           title: str = "") -> tuple[Any, list[Any]]:
    """A Figure with nrows x ncols axes (a flat list) and a title stating the lecture's claim."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig, axes


def save(fig: Any, out: Path, name: str) -> Path:
    """Write fig to out/name and say so."""
    path = Path(out) / name
    fig.savefig(path, dpi=100)
    print(f"figure written to {path}")
    return path
