"""The report's plots of its rows (cells pooled over seeds), each a PNG or None when the sweep
lacks what it needs:

scores.png                 every scored row's score (and f1), whiskers its 95% CI
score_vs_lora_rank.png     the score against the LoRA rank, a line per other setting; and
score_vs_<axis>.png        the same against each other numeric axis that varies
                           (score_vs_k.png, score_vs_trainer_learning_rate.png, ...)
pareto.png                 the score against each recorded cost, with the Pareto front

`compare_plots` draws the difference matrix (differences.png), `eval_plots` accuracy against
hallucination rate (accuracy_vs_hallucination.png, from the cells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ragft.approaches import RETRIEVAL, TRAINING, kind_of
from ragft.report.axes import NA, is_number, is_numeric, label, varying_axes
from ragft.report.decision import COSTS, cost_of, pareto_front
from ragft.report.figures import (
    axis_png_path,
    color,
    error_bars,
    new_figure,
    nudge,
    numeric_x_axis,
    percent,
    png_path,
    save,
    x_scale,
)
from ragft.report.rows import SEED, Row, seeds_vary, with_score

if TYPE_CHECKING:
    from matplotlib.axes import Axes

AXIS_TITLES = {
    "lora": "LoRA rank r",
    "k": "passages retrieved (k)",
    "n_train_phrasings": "training phrasings per fact",
}
FULL = "full"  # the lora axis's value for full fine-tuning (no adapter): not on the x axis
LINE_STYLES = ("-", "--", ":", "-.")
_NA_WORDS = {TRAINING: "untrained", RETRIEVAL: "no retrieval"}


def plot_scores(rows: Sequence[Row], metric: str, out: Path) -> Path | None:
    """Horizontal bars: `metric` (and f1) per scored row, whiskers its 95% CI.

    When seeds vary a bar is the mean over seeds, its number "62.5 ± 3.1%" (the standard
    deviation across seeds) and its whiskers the CI over questions and seeds.
    """
    shown = with_score(rows, metric)
    if not shown:
        return None
    metrics = [metric]
    if metric != "f1" and all(r.score("f1") is not None for r in shown):
        metrics.append("f1")
    pooled = seeds_vary(shown)
    n = len(shown)
    height = 0.8 / len(metrics)
    fig = new_figure(8.5, max(2.8, 0.32 * n * len(metrics) + 1.6))
    ax = fig.add_subplot()
    y = np.arange(n)
    colors = [color(r.approach) for r in shown]
    for j, m in enumerate(metrics):  # the primary metric solid, f1 hatched below it
        values = np.array([100 * (r.score(m) or 0.0) for r in shown])
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
        for p, v, hi, r in zip(pos, values, err[1], shown, strict=True):
            ax.text(v + hi + 1.2, p, bar_text(v, r.sd(m), pooled), va="center", fontsize=8)
    ax.set_yticks(y, [r.label for r in shown])
    ax.invert_yaxis()  # row order, top to bottom
    _score_axes(ax, shown, metrics, pooled)
    return save(fig, png_path(out, "scores"))


def bar_text(percent_value: float, sd: float | None, pooled: bool) -> str:
    """ "62.5%", or "62.5 ± 3.1%" with the standard deviation across seeds (a fraction)."""
    if pooled and sd is not None:
        return f"{percent_value:.1f} ± {100 * sd:.1f}%"
    return f"{percent_value:.1f}%"


def _score_axes(ax: Axes, shown: Sequence[Row], metrics: Sequence[str], pooled: bool) -> None:
    """plot_scores' x axis, title and legend."""
    from matplotlib.patches import Patch

    ax.set_xlim(0, 124 if pooled else 112)  # room for the numbers right of the whiskers
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    percent(ax.xaxis)
    what = "95% CI over questions and seeds" if pooled else "95% bootstrap CI"
    bar = "mean over seeds" if pooled else "mean"
    ax.set_xlabel(f"score (% of questions)\nbar: {bar}; whiskers: {what}")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    n_q = max((r.n_eval or 0) for r in shown)
    n_seeds = max(len(r.per_seed(metrics[0])) for r in shown)
    about = [f"{n_q} questions"] if n_q else []
    about += [f"up to {n_seeds} seeds"] if pooled else []
    ax.set_title(f"{' and '.join(metrics)} per row" + (f" ({', '.join(about)})" if about else ""))
    if len(metrics) > 1:
        handles = [
            Patch(facecolor="#555555", edgecolor="white", label=f"{metrics[0]} (primary)"),
            Patch(facecolor="#555555", alpha=0.45, hatch="//", edgecolor="#444444", label="f1"),
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)


def plot_vs_axis(rows: Sequence[Row], metric: str, axis: str, out: Path) -> Path | None:
    """`metric` vs a numeric `axis`, one line per combination of the other varying axes.

    Rows where the axis does not apply (untrained rows for a training axis) or is not a
    number (full fine-tuning on the lora axis) are dashed horizontal references, when there
    are at most 4. Skipped (None) unless the scored rows cover at least two values.
    """
    shown = with_score(rows, metric)
    placed = [r for r in shown if is_number(r.axes.get(axis))]
    values = sorted({float(r.axes[axis]) for r in placed})
    if len(values) < 2:
        return None
    scale = x_scale(values)
    varying = varying_axes([r.axes for r in shown])
    series: dict[str, dict[float, Row]] = {}
    for r in placed:  # the first row at a value, should two share a label there
        key = label(r.axes, varying, exclude=(axis,)) or r.approach
        series.setdefault(key, {}).setdefault(float(r.axes[axis]), r)
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    per_approach: dict[str, int] = {}
    for i, (key, by_value) in enumerate(series.items()):
        xs = sorted(by_value)
        group = [by_value[x] for x in xs]
        approach = group[0].approach
        style = LINE_STYLES[per_approach.get(approach, 0) % len(LINE_STYLES)]
        per_approach[approach] = per_approach.get(approach, 0) + 1
        shift = nudge(scale, values, i, len(series))
        ax.errorbar([x + shift if scale == "linear" else x * shift for x in xs],
                    [100 * (r.score(metric) or 0.0) for r in group],
                    yerr=error_bars(group, metric), marker="o", ls=style, capsize=3,
                    elinewidth=1, color=color(approach), label=key)  # fmt: skip
    others = [r for r in shown if r.axes.get(axis) is not None and not is_number(r.axes[axis])]
    _references(ax, others, metric, axis)
    title = AXIS_TITLES.get(axis, axis)
    numeric_x_axis(ax, values, scale, title)
    ax.set_ylim(0, 105)
    percent(ax.yaxis)
    ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
    ax.set_title(f"{metric} vs {title}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return save(fig, axis_png_path(out, axis))


def _references(ax: Axes, others: Sequence[Row], metric: str, axis: str) -> None:
    """Dashed horizontal lines for the rows off the x axis: those where it does not apply
    and those with another value (full fine-tuning), each kind when there are at most 4."""
    na = [r for r in others if r.axes.get(axis) == NA]
    other = [r for r in others if r.axes.get(axis) != NA]
    shown = [*(other if len(other) <= 4 else []), *(na if len(na) <= 4 else [])]
    for i, r in enumerate(shown):
        note = ""
        if r.axes.get(axis) == NA:
            note = f" ({_NA_WORDS.get(kind_of(axis) or '', f'no {axis}')})"
        ax.axhline(
            100 * (r.score(metric) or 0.0),
            color=color(r.approach),
            ls=LINE_STYLES[1 + i % 3],
            lw=1,
            alpha=0.8,
            label=f"{r.label}{note}",
        )


def axis_plots(rows: Sequence[Row], metric: str, out_dir: Path) -> list[Path]:
    """`plot_vs_axis` for each axis of the rows that varies and is numeric (the lora axis's
    "full" aside), in axis order; seed never (rows pool it)."""
    if not rows:
        return []
    varying = varying_axes([r.axes for r in rows])
    made = []
    for axis in plotted_axes(rows, varying):
        path = plot_vs_axis(rows, metric, axis, out_dir)
        if path is not None:
            made.append(path)
    return made


def plotted_axes(rows: Sequence[Row], varying: set[str]) -> list[str]:
    """The axes `axis_plots` draws against, given the varying ones."""
    out = []
    for axis in rows[0].axes if rows else ():
        values = [r.axes.get(axis) for r in rows]
        if axis == "lora":
            values = [v for v in values if v != FULL]
        if axis != SEED and axis in varying and is_numeric(values):
            out.append(axis)
    return out


def plot_pareto(rows: Sequence[Row], metric: str, out: Path) -> Path | None:
    """A panel per cost of `decision.COSTS` that at least two scored rows recorded with some
    difference: `metric` (y) vs the cost (x), the Pareto front ringed and joined by a step.

    Rows that do not train count as 0 training seconds. Without such a cost (one row), a
    panel per cost any scored row recorded. None when no row has the metric (or no cost).
    """
    shown = with_score(rows, metric)
    panels = [(key, pts) for key in COSTS if (pts := cost_points(shown, key))]
    if not panels:
        panels = [(key, pts) for key in COSTS if (pts := cost_points(shown, key, spread=False))]
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(5.6 * ncols, 4.8 * nrows)
    for i, (key, pts) in enumerate(panels):
        _pareto_panel(fig.add_subplot(nrows, ncols, i + 1), pts, metric, key, legend=i == 0)
    return save(fig, png_path(out, "pareto"))


def cost_points(rows: Sequence[Row], key: str, spread: bool = True) -> list[tuple[Row, float]]:
    """(row, its mean `key` cost) for the ok rows that recorded it (untrained rows: 0
    training seconds); with `spread`, [] under two rows or when every value is the same."""
    pts = []
    for r in (r for r in rows if r.ok):
        v = cost_of(r, key, zero=("train_seconds",))  # an adapter of 0 MB is not plotted
        if v is not None:
            pts.append((r, v))
    if spread and (len(pts) < 2 or len({v for _, v in pts}) < 2):
        return []
    return pts


def _pareto_panel(
    ax: Axes, pts: Sequence[tuple[Row, float]], metric: str, key: str, legend: bool
) -> None:
    """One panel of plot_pareto: a point per row, the front ringed and joined by a step."""
    from matplotlib.lines import Line2D

    what, unit = COSTS[key]
    scores = [100 * (r.score(metric) or 0.0) for r, _ in pts]
    front = pareto_front([(s, c) for s, (_, c) in zip(scores, pts, strict=True)])
    xmax = max(c for _, c in pts) or 1.0
    ax.set_xlim(-0.05 * xmax, 1.3 * xmax)  # room for the labels on the right
    on = sorted((c, s) for s, (_, c), f in zip(scores, pts, front, strict=True) if f)
    xs, ys = [c for c, _ in on], [s for _, s in on]
    ax.step([*xs, 1.3 * xmax], [*ys, ys[-1]], where="post", color="black", lw=1.2, alpha=0.6)
    for i, (r, c) in enumerate(pts):
        big = front[i]
        ax.errorbar(
            [c], [scores[i]], yerr=error_bars([r], metric), fmt="o", ms=9 if big else 6,
            color=color(r.approach), mec="black" if big else color(r.approach),
            mew=1.6 if big else 0.0, alpha=1.0 if big else 0.35, capsize=3, elinewidth=1,
            zorder=3 if big else 2,
        )  # fmt: skip
    order = sorted(range(len(pts)), key=lambda i: (pts[i][1], scores[i]))
    for n, i in enumerate(order):  # alternate offsets: labels of nearby points do not overlap
        ax.annotate(pts[i][0].label, (pts[i][1], scores[i]), xytext=(7, (4, -11)[n % 2]),
                    textcoords="offset points", fontsize=8 if front[i] else 7,
                    color="black" if front[i] else "#777777")  # fmt: skip
    ax.set_ylim(0, 105)
    percent(ax.yaxis)
    untrained = "; untrained rows at 0" if key == "train_seconds" else ""
    ax.set_xlabel(f"{what} ({unit}{untrained})")
    ax.set_ylabel(f"{metric} (% of questions; whiskers: 95% CI)")
    ax.set_title(f"score vs {what}:\nthe front is what no other row beats on both", fontsize=10)
    ax.grid(alpha=0.3)
    if legend:
        handles = [Line2D([], [], ls="", marker="o", color=color(a), label=a)
                   for a in dict.fromkeys(r.approach for r, _ in pts)]  # fmt: skip
        handles.append(Line2D([], [], color="black", marker="o", mfc="white", mec="black",
                              mew=1.6, alpha=0.6, label="the front"))  # fmt: skip
        ax.legend(handles=handles, fontsize=8, loc="lower right", framealpha=0.9)
