"""The evaluation plots: accuracy against hallucination rate, with CRAG's iso-lines.

accuracy_vs_hallucination.png   a point per cell with abstention scores (None without any)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragft.report.cells import Cell
from ragft.report.figures import color, new_figure, percent, png_path, save

CRAG_LEVELS = (-60, -40, -20, 0, 20, 40, 60, 80)  # iso-lines: accuracy - hallucination, in %


def plot_accuracy_vs_hallucination(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Accuracy (y) against hallucination rate (x) per ok cell with both, in % of questions.

    Up and left is better. Dotted lines join the points of equal CRAG score (accuracy -
    hallucination rate); the grey corner is impossible (right + wrong > every question),
    and a point's vertical distance to it is its abstention rate. `metric` is not used: the
    plot shares the report's plot signature.
    """
    shown = [c for c in cells if c.ok and {"accuracy", "hallucination_rate"} <= set(c.scores)]
    if not shown:
        return None
    fig = new_figure(7.5, 6.2)
    ax = fig.add_subplot()
    grid = np.array([0.0, 100.0])
    ax.fill_between(grid, 100 - grid, 100, color="#e4e4e4", lw=0)
    ax.text(75, 75, "impossible:\nright + wrong > 100%", ha="center", va="center",
            fontsize=8, color="#888888")  # fmt: skip
    for level in CRAG_LEVELS:  # each line inside the possible triangle only
        x0, x1 = max(0.0, -level), (100.0 - level) / 2
        ax.plot([x0, x1], [x0 + level, x1 + level], color="#999999", ls=":", lw=0.9)
        xm = (x0 + x1) / 2
        ax.text(xm, xm + level + 0.8, f"CRAG {level:+d}", fontsize=7, color="#777777",
                rotation=45, rotation_mode="anchor", ha="center", va="bottom")  # fmt: skip
    for approach in dict.fromkeys(c.approach for c in shown):
        group = [c for c in shown if c.approach == approach]
        ax.scatter(
            [100 * c.scores["hallucination_rate"] for c in group],
            [100 * c.scores["accuracy"] for c in group],
            s=46,
            color=color(approach),
            edgecolor="black",
            linewidth=0.5,
            zorder=3,
            label=approach,
        )
    ordered = sorted(shown, key=lambda c: (c.scores["hallucination_rate"], c.scores["accuracy"]))
    for i, c in enumerate(ordered):  # alternate offsets: nearby labels do not overlap
        ax.annotate(
            c.label,
            (100 * c.scores["hallucination_rate"], 100 * c.scores["accuracy"]),
            xytext=(6, (5, -11)[i % 2]),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_aspect("equal")
    percent(ax.xaxis)
    percent(ax.yaxis)
    ax.set_xlabel("hallucination rate (% of questions answered wrongly)")
    ax.set_ylabel("accuracy (% of questions answered right)")
    ax.set_title("Accuracy vs hallucination rate (up and left is better)")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return save(fig, png_path(out, "abstention"))
