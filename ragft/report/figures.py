"""What the report's plots share: a Figure on the Agg canvas, colours, error bars, the save.

Plots are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so building a report opens no window, changes no global backend and leaves no
figure open. A PNG is written through `ragft.files.atomic_writer`: readers never see half.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ragft.files import atomic_writer
from ragft.report.axes import value_text

if TYPE_CHECKING:  # matplotlib loads on first use: reading cells does not need it
    from matplotlib.figure import Figure

PLOT_FILES = {
    "scores": "scores.png",
    "lora_rank": "score_vs_lora_rank.png",
    "pareto": "pareto.png",
    "differences": "differences.png",
    "abstention": "accuracy_vs_hallucination.png",
}
# Score vs a numeric axis: score_vs_<axis, dots as underscores>.png (the LoRA rank's keeps
# its PLOT_FILES name, which has the same prefix).
AXIS_PLOT_PREFIX = "score_vs_"
APPROACH_COLORS = {
    "base": "#7f7f7f",
    "rag": "#1f77b4",
    "finetune": "#ff7f0e",
    "hybrid": "#2ca02c",
    "raft": "#9467bd",
}
_OTHER_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728")
DPI = 120


class Scored(Protocol):
    """A row of the report (`rows.Row`): a score and a 95% CI per metric, in fractions."""

    def score(self, metric: str) -> float | None: ...
    def ci(self, metric: str) -> tuple[float, float] | None: ...


def png_path(out: Path, key: str) -> Path:
    """`out` itself when it names a .png file, else the plot's usual file in folder `out`."""
    return _target(out, PLOT_FILES[key])


def axis_plot_file(axis: str) -> str:
    """The file of the score-vs-`axis` plot: "score_vs_trainer_learning_rate.png"."""
    if axis == "lora":
        return PLOT_FILES["lora_rank"]
    return f"{AXIS_PLOT_PREFIX}{axis.replace('.', '_')}.png"


def axis_png_path(out: Path, axis: str) -> Path:
    """`out` itself when it names a .png file, else `axis_plot_file(axis)` in folder `out`."""
    return _target(out, axis_plot_file(axis))


def _target(out: Path, name: str) -> Path:
    out = Path(out)
    return out if out.suffix.lower() == ".png" else out / name


def is_axis_plot(name: str) -> bool:
    """Whether a file name is a score-vs-axis plot's (score_vs_lora_rank.png included)."""
    return name.startswith(AXIS_PLOT_PREFIX) and name.endswith(".png")


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


def error_bars(rows: Sequence[Scored], metric: str) -> np.ndarray:
    """Asymmetric error bars (in %, shape (2, n)) from each row's CI around its score; zero
    where a row has no CI or no score."""
    err = np.zeros((2, len(rows)))
    for i, r in enumerate(rows):
        ci, v = r.ci(metric), r.score(metric)
        if ci is not None and v is not None:
            err[:, i] = [max(v - ci[0], 0.0) * 100, max(ci[1] - v, 0.0) * 100]
    return err


def x_scale(values: Sequence[float]) -> str:
    """The x scale for an axis's values: "log2" for powers of two (LoRA ranks 4, 16, 64),
    "log10" for positive values spanning at least a factor of 10 (learning rates), else
    "linear"."""
    if not values:
        return "linear"
    if all(v > 0 and float(v).is_integer() and _power_of_two(int(v)) for v in values):
        return "log2"
    if all(v > 0 for v in values) and max(values) / min(values) >= 10:
        return "log10"
    return "linear"


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def nudge(scale: str, values: Sequence[float], i: int, n: int) -> float:
    """How far to move series `i` of `n` sideways (a factor on log scales, an offset on a
    linear one) so whiskers at the same x do not hide each other."""
    shift = i - (n - 1) / 2
    if scale == "log2":
        return 2 ** (0.05 * shift)
    if scale == "log10":
        return 10 ** (0.015 * shift)
    span = (max(values) - min(values)) if values else 0.0
    return 0.008 * shift * (span or 1.0)


def numeric_x_axis(ax: Any, values: Sequence[float], scale: str, xlabel: str) -> None:
    """An x axis on `scale` (`x_scale`) with a tick at each value, labelled as tables show
    it ("16", "0.001", "3e-05"); more than 12 values keep matplotlib's ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator

    lo, hi = min(values), max(values)
    if scale == "linear":
        pad = 0.08 * ((hi - lo) or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
    else:
        ax.set_xscale("log", base=2 if scale == "log2" else 10)
        pad = 1.4 if scale == "log2" else (hi / lo) ** 0.06
        ax.set_xlim(lo / pad, hi * pad)
        xlabel += f" ({scale} scale)"
    if len(values) <= 12:
        ax.xaxis.set_major_locator(FixedLocator(list(values)))
        ax.xaxis.set_major_formatter(lambda v, _: value_text(float(v)))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
