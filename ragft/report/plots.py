"""The report's four plots, each a PNG from the cells (or None when the sweep lacks what it needs).

scores.png               the score of every ok cell, with bootstrap 95% CIs
score_vs_lora_rank.png   the score against the LoRA rank, a line per approach
score_vs_cost.png        the score against training time and against answer latency
paired_differences.png   each cell minus the reference cell, question by question

and, from `eval_plots`, accuracy_vs_hallucination.png (cells with abstention scores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ragft.report.axes import NA, label, varying_axes
from ragft.report.cells import Cell, with_metric
from ragft.report.eval_plots import plot_accuracy_vs_hallucination
from ragft.report.figures import (
    APPROACH_COLORS,
    color,
    error_bars,
    new_figure,
    percent,
    png_path,
    save,
)
from ragft.report.stats import paired_differences

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_scores(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Horizontal bars: `metric` (and f1) per ok cell, with bootstrap 95% CIs over questions."""
    from matplotlib.patches import Patch

    shown = with_metric(cells, metric)
    if not shown:
        return None
    metrics = [metric]
    if metric != "f1" and all("f1" in c.scores for c in shown):
        metrics.append("f1")
    n = len(shown)
    height = 0.8 / len(metrics)
    fig = new_figure(8.5, max(2.8, 0.32 * n * len(metrics) + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n)
    colors = [color(c.approach) for c in shown]
    for j, m in enumerate(metrics):  # the primary metric solid, f1 hatched below it
        values = np.array([100 * c.scores[m] for c in shown])
        pos = y - 0.4 + height * (j + 0.5)
        ax.barh(
            pos,
            values,
            height=height * 0.92,
            color=colors,
            alpha=1.0 if j == 0 else 0.45,
            hatch=None if j == 0 else "//",
            edgecolor="white" if j == 0 else "#444444",
            linewidth=0.5,
        )
        err = error_bars(shown, m)
        ax.errorbar(values, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
        for p, v, hi in zip(pos, values, err[1], strict=True):
            ax.text(v + hi + 1.2, p, f"{v:.1f}%", va="center", fontsize=8)
    ax.set_yticks(y, [c.label for c in shown])
    ax.invert_yaxis()  # job order, top to bottom
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    percent(ax.xaxis)
    ax.set_xlabel("score (% of questions; bar: mean, whiskers: 95% bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    n_q = max((c.n_eval or 0) for c in shown)
    ax.set_title(f"{' and '.join(metrics)} per cell" + (f" ({n_q} questions)" if n_q else ""))
    if len(metrics) > 1:
        handles = [
            Patch(facecolor="#555555", edgecolor="white", label=f"{metrics[0]} (primary)"),
            Patch(facecolor="#555555", alpha=0.45, hatch="//", edgecolor="#444444", label="f1"),
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    return save(fig, png_path(out, "scores"))


def plot_vs_lora_rank(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """`metric` vs LoRA rank (log2 axis), one line per approach (and other varying axes).

    Untrained cells (base, rag), when there are few, are dashed horizontal references.
    Skipped (None) unless trained cells cover at least two ranks.
    """
    shown = with_metric(cells, metric)
    ranked = [c for c in shown if isinstance(c.axes["lora"], int)]
    ranks = sorted({c.axes["lora"] for c in ranked})
    if len(ranks) < 2:
        return None
    varying = varying_axes([c.axes for c in cells])
    series: dict[str, list[Cell]] = {}
    for c in ranked:
        series.setdefault(label(c.axes, varying, exclude=("lora",)) or c.approach, []).append(c)
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    for i, (key, group) in enumerate(series.items()):
        by_rank: dict[int, list[Cell]] = {}
        for c in group:
            by_rank.setdefault(c.axes["lora"], []).append(c)
        xs = sorted(by_rank)
        ys = [100 * float(np.mean([c.scores[metric] for c in by_rank[r]])) for r in xs]
        # Nudge each line sideways a little so whiskers at the same rank do not hide each other.
        nudge = 2 ** (0.05 * (i - (len(series) - 1) / 2))
        ax.errorbar(
            [x * nudge for x in xs],
            ys,
            yerr=error_bars([by_rank[r][0] for r in xs], metric),
            marker="o",
            ls=["-", "--", ":", "-."][i // len(APPROACH_COLORS) % 4],
            capsize=3,
            elinewidth=1,
            color=color(group[0].approach),
            label=key,
        )
    untrained = [c for c in shown if c.axes["lora"] == NA]
    if len(untrained) <= 4:
        for c in untrained:
            ax.axhline(
                100 * c.scores[metric],
                color=color(c.approach),
                ls="--",
                lw=1,
                alpha=0.8,
                label=f"{c.label} (untrained)",
            )
    _rank_axis(ax, ranks)
    ax.set_ylim(0, 105)
    percent(ax.yaxis)
    ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
    ax.set_title(f"{metric} vs LoRA rank")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return save(fig, png_path(out, "lora_rank"))


def _rank_axis(ax: Axes, ranks: Sequence[int]) -> None:
    """A log2 x axis with a tick at each rank the sweep has, labelled 4, 16, 64."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ranks))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(ranks[0] / 1.4, ranks[-1] * 1.4)
    ax.set_xlabel("LoRA rank r (log2 scale)")


def plot_vs_cost(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Two panels: `metric` vs training seconds (untrained cells at 0) and vs answer latency."""
    shown = with_metric(cells, metric)
    if not shown:
        return None
    fig = new_figure(12, 5)
    _cost_panel(
        fig.add_subplot(1, 2, 1),
        shown,
        metric,
        lambda c: c.train_seconds or 0.0,
        "training time (s; untrained cells at 0)",
        f"{metric} vs training cost",
    )
    _cost_panel(
        fig.add_subplot(1, 2, 2),
        shown,
        metric,
        lambda c: c.cost.figure("seconds_per_question"),
        "answer latency (s per question)",
        f"{metric} vs answer latency",
    )
    return save(fig, png_path(out, "cost"))


def _cost_panel(
    ax: Axes,
    shown: Sequence[Cell],
    metric: str,
    x_of: Callable[[Cell], float | None],
    xlabel: str,
    title: str,
) -> None:
    """One panel of plot_vs_cost: a point per cell with its CI, "not recorded" without x."""
    pts = [(c, float(x)) for c in shown if (x := x_of(c)) is not None]
    ax.set_title(title)
    if not pts:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    for approach in dict.fromkeys(c.approach for c, _ in pts):
        group = [(c, x) for c, x in pts if c.approach == approach]
        cs = [c for c, _ in group]
        ax.errorbar(
            [x for _, x in group],
            [100 * c.scores[metric] for c in cs],
            yerr=error_bars(cs, metric),
            fmt="o",
            capsize=3,
            elinewidth=1,
            alpha=0.9,
            color=color(approach),
            label=approach,
        )
    # Alternate label offsets so labels of nearby points do not sit on top of each other.
    ordered = sorted(pts, key=lambda p: (p[1], p[0].scores[metric]))
    for i, (c, x) in enumerate(ordered):
        ax.annotate(
            c.label,
            (x, 100 * c.scores[metric]),
            xytext=(6, (4, -11)[i % 2]),
            textcoords="offset points",
            fontsize=8,
        )
    xmax = max(x for _, x in pts) or 1.0
    ax.set_xlim(-0.05 * xmax, 1.3 * xmax)
    ax.set_ylim(0, 105)
    percent(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def plot_paired_differences(cells: Sequence[Cell], metric: str, out: Path) -> Path | None:
    """Forest plot: per-question paired difference of each cell vs the reference, 95% CI.

    The reference is the `base` cell when present, else the first ok cell; only questions
    both cells answered count. Skipped (None) without two ok cells with predictions.
    """
    ref, diffs = paired_differences(cells, metric)
    if ref is None or not diffs:
        return None
    n = len(diffs)
    fig = new_figure(8.5, max(2.6, 0.42 * n + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n)
    means = np.array([100 * d.mean for _, d in diffs])
    lows = np.array([100 * d.low for _, d in diffs])
    highs = np.array([100 * d.high for _, d in diffs])
    colors = [
        "#2ca02c" if lo > 0 else "#d62728" if hi < 0 else "#7f7f7f"
        for lo, hi in zip(lows, highs, strict=True)
    ]
    ax.barh(y, means, height=0.55, color=colors, alpha=0.35)
    ax.errorbar(
        means,
        y,
        xerr=[np.maximum(means - lows, 0), np.maximum(highs - means, 0)],
        fmt="o",
        color="black",
        capsize=3,
        ms=4,
    )
    ax.axvline(0, color="black", lw=1)
    left, right = min(float(lows.min()), 0.0), max(float(highs.max()), 0.0)
    span = max(right - left, 1.0)
    ax.set_xlim(left - 0.08 * span, right + 0.3 * span)  # room for the numbers on the right
    for yi, (_, d), hi in zip(y, diffs, highs, strict=True):
        ax.text(hi + 0.02 * span, yi, f"{100 * d.mean:+.1f} (n={d.n})", va="center", fontsize=8)
    ax.set_yticks(y, [c.label for c, _ in diffs])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric}: cell minus {ref.label} (percentage points; 95% paired bootstrap CI)")
    ax.set_title(f"Paired per-question difference vs {ref.label} (green: better, red: worse)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return save(fig, png_path(out, "paired"))


# The plots in the order report.md shows them, by their key in PLOT_FILES.
PLOTS: dict[str, Callable[[Sequence[Cell], str, Path], Path | None]] = {
    "scores": plot_scores,
    "lora_rank": plot_vs_lora_rank,
    "cost": plot_vs_cost,
    "paired": plot_paired_differences,
    "abstention": plot_accuracy_vs_hallucination,
}
