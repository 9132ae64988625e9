"""What the report's plots share: a Figure on the Agg canvas, colours, error bars, the save.

Plots are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so building a report opens no window, changes no global backend and leaves no
figure open. A PNG is written through `ragft.files.atomic_writer`: readers never see half.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragft.files import atomic_writer
from ragft.report.cells import Cell

if TYPE_CHECKING:  # matplotlib loads on first use: reading cells does not need it
    from matplotlib.figure import Figure

PLOT_FILES = {
    "scores": "scores.png",
    "lora_rank": "score_vs_lora_rank.png",
    "cost": "score_vs_cost.png",
    "paired": "paired_differences.png",
    "abstention": "accuracy_vs_hallucination.png",
}
APPROACH_COLORS = {
    "base": "#7f7f7f",
    "rag": "#1f77b4",
    "finetune": "#ff7f0e",
    "hybrid": "#2ca02c",
    "raft": "#9467bd",
}
_OTHER_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728")
DPI = 120


def png_path(out: Path, key: str) -> Path:
    """`out` itself when it names a .png file, else the plot's usual file in folder `out`."""
    out = Path(out)
    return out if out.suffix.lower() == ".png" else out / PLOT_FILES[key]


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="tight")


def save(fig: Figure, path: Path) -> Path:
    """Render `fig` on the Agg canvas into `path`, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_writer(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=DPI)
    return path


def percent(axis: Any) -> None:
    """Tick labels of `axis` (values in %) as "40%"."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(100, decimals=0))


def color(approach: str) -> str:
    """The approach's colour; an unknown approach gets a fixed one from its name."""
    if approach in APPROACH_COLORS:
        return APPROACH_COLORS[approach]
    return _OTHER_COLORS[sum(map(ord, approach)) % len(_OTHER_COLORS)]


def error_bars(cells: Sequence[Cell], metric: str) -> np.ndarray:
    """Asymmetric error bars (in %) from each cell's CI; zero where a cell has none."""
    err = np.zeros((2, len(cells)))
    for i, c in enumerate(cells):
        ci = c.ci(metric)
        if ci is not None:
            v = c.scores[metric]
            err[:, i] = [max(v - ci[0], 0.0) * 100, max(ci[1] - v, 0.0) * 100]
    return err
