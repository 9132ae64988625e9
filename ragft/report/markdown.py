"""report.md: the decision, the sweep's table, the comparisons, plots and failed cells.

Tables are written by `pandas.DataFrame.to_markdown` (tabulate's "pipe" format: columns
padded to one width, numbers right-aligned); every cell is formatted here first, as text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragft.report.cells import Cell
from ragft.report.compare import ALPHA, Comparison
from ragft.report.decision import Decision
from ragft.report.figures import PLOT_FILES, is_axis_plot
from ragft.report.tables import SD, non_score_columns

if TYPE_CHECKING:
    import pandas as pd

CAPTIONS = {
    "scores": "Score per row; whiskers are 95% bootstrap CIs (over questions and seeds).",
    "lora_rank": "Score vs LoRA rank (log2 axis), one line per approach.",
    "pareto": "Score against each cost; ringed and joined: the rows no other row beats on "
    "both (the Pareto front).",
    "differences": "Row minus column on the primary metric, for the pairs compared; "
    "* marks a Holm-corrected p < 0.05.",
    "abstention": "Accuracy vs hallucination rate per cell; dotted: equal CRAG score.",
}
MAX_COMPARISONS = 30  # report.md shows at most this many; comparisons.csv has them all


def blank(v: Any) -> bool:
    """None, "", NaN or pandas' NA: shown as an empty Markdown cell."""
    import pandas as pd

    return v is None or (isinstance(v, str) and v == "") or bool(pd.isna(v))


def md_cell(v: Any) -> str:
    """`v` as Markdown cell text: 12,345 for big whole numbers, 4 significant digits, `\\|`."""
    if blank(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if float(v).is_integer():
            return f"{int(v):,}" if abs(v) >= 10000 else str(int(v))
        return f"{float(v):.4g}"
    if isinstance(v, (int, np.integer)) and abs(int(v)) >= 10000:
        return f"{int(v):,}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def pipe_table(text: pd.DataFrame, right: set[str]) -> str:
    """A GitHub Markdown table of `text` (every cell a string), `right` columns right-aligned."""
    return text.to_markdown(
        index=False,
        tablefmt="pipe",
        colalign=["right" if col in right else "left" for col in text.columns],
        disable_numparse=True,  # the cells are formatted already: "90.0" stays "90.0"
    )


def markdown_table(df: pd.DataFrame, axes: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """A GitHub Markdown table of `df`, and the columns it leaves out for having one value.

    Columns blank in every row are dropped; so are the `axes` columns (default: the table's
    `attrs["axes"]`) with one value in every row that has one (returned, to be said once
    above the table). Scores show one decimal, with "± sd" where `df` has `<score>_sd`.
    """
    import pandas as pd

    axes = set(axes or df.attrs.get("axes", ())) | {"n_eval"}
    fixed = non_score_columns(df) | axes
    constant: dict[str, Any] = {}
    keep = []
    for col in df.columns:
        values = [v for v in df[col] if not blank(v)]
        if col == "job" or col.endswith(SD) or not values:
            continue
        if col in axes and len(df) > 1 and len({repr(v) for v in values}) == 1:
            constant[col] = values[0]
            continue
        keep.append(col)

    def shown(col: str, i: int) -> str:
        v = df[col].iloc[i]
        if col in fixed or blank(v):
            return md_cell(v)
        sd = df[col + SD].iloc[i] if col + SD in df else None
        return f"{v:.1f}" if sd is None or blank(sd) else f"{v:.1f} ± {sd:.1f}"

    text = pd.DataFrame({col: [shown(col, i) for i in range(len(df))] for col in keep})
    numeric = {col for col in keep if pd.api.types.is_numeric_dtype(df[col])}
    return pipe_table(text, right=numeric), constant


def constant_line(constant: dict[str, Any]) -> str:
    """ "Every cell: model `tiny-llama`, quant `none`." for the columns markdown_table left out."""
    return "Every cell: " + ", ".join(f"{k} `{md_cell(v)}`" for k, v in constant.items()) + "."


def comparisons_table(found: Sequence[Comparison], limit: int = MAX_COMPARISONS) -> str:
    """One line per comparison: better row, other row, the axis, difference in points with
    its CI, the test, raw and Holm-corrected p, and whether it is significant."""
    import pandas as pd

    rows = [
        {
            "better": md_cell(c.a.label),
            "than": md_cell(c.b.label),
            "differs in": md_cell(c.axis or "several axes"),
            "pairs": str(c.n),
            "difference": f"{100 * c.mean:+.1f}",
            "95% CI": f"[{100 * c.low:+.1f}, {100 * c.high:+.1f}]",
            "test": c.test,
            "p": f"{c.p:.3g}",
            "Holm p": f"{c.p_holm:.3g}",
            "significant": "**yes**" if c.significant else "no",
        }
        for c in found[:limit]
    ]
    return pipe_table(pd.DataFrame(rows), right={"pairs", "difference", "p", "Holm p"})


def decision_lines(made: Decision | None, plots: Sequence[Path], out_dir: Path) -> list[str]:
    """## Decision: the verdict, then the Pareto plot."""
    lines = ["## Decision", ""]
    if made is None:
        return [*lines, "No row has a score: nothing to decide (see Failed cells).", ""]
    lines += [made.text, ""]
    pareto = [p for p in plots if p.name == PLOT_FILES["pareto"]]
    return lines + _plot_lines(pareto, out_dir)


def comparison_lines(found: Sequence[Comparison], metric: str, pooled: bool) -> list[str]:
    """## Comparisons: every pair the report tested, most significant first."""
    if not found:
        return []
    units = "(seed, question) pairs" if pooled else "questions"
    more = f" The first {MAX_COMPARISONS} of {len(found)} are shown; comparisons.csv has all."
    return [
        "## Comparisons",
        "",
        f"Each pair of rows that differ in one axis, and the best row against the runner-up, "
        f"on `{metric}` over the {units} both answered: the mean paired difference in points "
        "with a bootstrap 95% CI, an exact McNemar test for a 0/1 metric (a paired "
        f"permutation test otherwise), and Holm's correction over all {len(found)} "
        f"comparisons (significant: Holm p < {ALPHA})."
        + (more if len(found) > MAX_COMPARISONS else ""),
        "",
        comparisons_table(found),
        "",
    ]


def report_markdown(
    sweep_dir: Path,
    cells: Sequence[Cell],
    metric: str,
    md_table: str,
    made: Decision | None,
    found: Sequence[Comparison],
    plots: Sequence[Path],
    out_dir: Path,
    sections: Sequence[str] = (),
    pooled: bool = False,
    lead: Sequence[str] = (),
) -> str:
    """The whole report.md; `md_table` is markdown_table's table (with its constant line),
    `sections` the lines of the evaluation sections, put after the comparisons, `lead` those
    of a search, put first."""
    n_ok = sum(c.ok for c in cells)
    bad = [c for c in cells if not c.ok]
    n_failed = sum(c.status == "failed" for c in cells)
    lines = [
        f"# Sweep report: {sweep_dir.name}",
        "",
        f"Sweep: `{sweep_dir}`  ",
        f"Cells: {len(cells)} ({n_ok} ok, {n_failed} failed, {len(bad) - n_failed} missing). "
        f"Primary metric: `{metric}`.",
        "",
        *lead,
        *decision_lines(made, plots, out_dir),
        "## Results",
        "",
        "Scores in % of questions"
        + (
            "; a row pools the cells that differ only in seed: mean ± standard deviation "
            "across seeds (each seed's values are in cells.csv), and its CIs resample both "
            "the seeds and, within each, the questions"
            if pooled
            else ""
        )
        + ". `train_seconds` is the time spent training the adapter, also when it was reused "
        "from the cache (`reused`); `–` marks an axis that does not apply to the approach.",
        "",
        md_table,
        "",
        *comparison_lines(found, metric, pooled),
        *sections,
    ]
    rest = [p for p in plots if p.name != PLOT_FILES["pareto"]]
    if rest:
        lines += ["## Plots", "", *_plot_lines(rest, out_dir)]
    lines += ["## Failed cells", "", *_failed(bad)]
    return "\n".join(lines).rstrip() + "\n"


def _plot_lines(plots: Sequence[Path], out_dir: Path) -> list[str]:
    lines = []
    for p in plots:
        key = next((k for k, f in PLOT_FILES.items() if f == p.name), "")
        caption = CAPTIONS.get(key, "")
        if not key and is_axis_plot(p.name):
            caption = "Score vs a numeric axis of the sweep, one line per other setting."
        rel = os.path.relpath(p, out_dir).replace(os.sep, "/")
        lines += [f"![{p.stem}]({rel})", "", caption, ""]
    return lines


def _failed(bad: Sequence[Cell]) -> list[str]:
    """The failed and missing cells, each with its whole error in a code block."""
    if not bad:
        return ["None: every cell finished.", ""]
    lines = []
    for c in bad:
        lines += [
            f"- `{c.dir.name}` ({c.label}): **{c.status}**",
            "",
            "  ```",
            *[f"  {line}" for line in c.error.strip().splitlines()],
            "  ```",
            "",
        ]
    return lines
