"""The comparisons as one picture: a matrix of row-minus-column differences.

differences.png   over the rows some comparison involves, best first (top, left): each
                  compared pair's paired difference in percentage points, bold with "*"
                  when significant after Holm's correction; blank where no test was made
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragft.report.compare import ALPHA, Comparison
from ragft.report.figures import new_figure, png_path, save
from ragft.report.rows import Row

MAX_ROWS = 20  # the best rows by score; more would not be readable


@dataclass(frozen=True)
class Matrix:
    """Row i minus row j (percentage points) where the two were compared, NaN elsewhere."""

    rows: list[Row]  # best first
    values: np.ndarray  # (n, n) float, NaN: not compared (and the diagonal)
    significant: np.ndarray  # (n, n) bool


def difference_matrix(
    found: Sequence[Comparison], rows: Sequence[Row], metric: str, limit: int = MAX_ROWS
) -> Matrix:
    """The rows that appear in some comparison (those of `rows` first, then any other),
    the best `limit` by `metric` score, with each comparison filled in both ways round."""
    involved = {id(r) for c in found for r in (c.a, c.b)}
    order: dict[int, Row] = {id(r): r for r in rows if id(r) in involved}
    for c in found:
        for r in (c.a, c.b):
            order.setdefault(id(r), r)
    ranked = sorted(order.values(), key=lambda r: -(r.score(metric) or 0.0))[:limit]
    at = {id(r): i for i, r in enumerate(ranked)}
    n = len(ranked)
    values = np.full((n, n), np.nan)
    significant = np.zeros((n, n), dtype=bool)
    for c in found:
        i, j = at.get(id(c.a)), at.get(id(c.b))
        if i is None or j is None or i == j:
            continue
        values[i, j], values[j, i] = 100 * c.mean, -100 * c.mean
        significant[i, j] = significant[j, i] = c.significant
    return Matrix(ranked, values, significant)


def cell_text(value: float, significant: bool) -> str:
    """ "+9.4", "-3.0", "0.0", "+12.5*" (significant)."""
    shown = "0.0" if round(value, 1) == 0 else f"{value:+.1f}"
    return shown + ("*" if significant else "")


def plot_differences(
    found: Sequence[Comparison], rows: Sequence[Row], metric: str, out: Path
) -> Path | None:
    """The difference matrix: cell (i, j) is row i minus row j on `metric` in points, on a
    diverging scale centred at 0 (blue: the row is better). None without comparisons."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    m = difference_matrix(found, rows, metric)
    n = len(m.rows)
    if not found or n < 2 or np.isnan(m.values).all():
        return None
    top = float(np.nanmax(np.abs(m.values))) or 1.0
    cmap = colormaps["RdBu"].with_extremes(bad="#f2f2f2")
    fig = new_figure(0.55 * n + 5.0, 0.45 * n + 3.2)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(m.values), cmap=cmap,
                      norm=Normalize(-top, top), aspect="auto")  # fmt: skip
    for i in range(n):
        for j in range(n):
            v = m.values[i, j]
            if np.isnan(v):
                continue
            sig = bool(m.significant[i, j])
            ax.text(j, i, cell_text(v, sig), ha="center", va="center",
                    fontsize=8 if n <= 12 else 6, fontweight="bold" if sig else "normal",
                    color="white" if abs(v) > 0.6 * top else "black")  # fmt: skip
    labels = [r.label for r in m.rows]
    ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    fig.colorbar(image, ax=ax, label="row minus column (percentage points)")
    ax.set_title(f"{metric}: row minus column (points); * Holm-corrected p < {ALPHA:g}",
                 fontsize=10)  # fmt: skip
    return save(fig, png_path(out, "differences"))
