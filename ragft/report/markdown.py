"""report.md: the sweep's table, paired differences, plots and failed cells, in Markdown.

Tables are written by `pandas.DataFrame.to_markdown` (tabulate's "pipe" format: columns
padded to one width, numbers right-aligned); every cell is formatted here first, as text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragft.report.cells import Cell, with_metric
from ragft.report.figures import PLOT_FILES
from ragft.report.stats import PairedDifference
from ragft.report.tables import AXIS_COLUMNS, NON_SCORE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

CAPTIONS = {
    "scores": "Score per cell; whiskers are 95% bootstrap CIs over questions.",
    "lora_rank": "Score vs LoRA rank (log2 axis), one line per approach.",
    "cost": "Score vs training time and vs answer latency.",
    "paired": "Per-question paired difference against the reference cell, 95% CI.",
    "abstention": "Accuracy vs hallucination rate per cell; dotted: equal CRAG score.",
}


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


def markdown_table(df: pd.DataFrame) -> tuple[str, dict[str, Any]]:
    """A GitHub Markdown table of `df`, and the columns it leaves out for having one value.

    Columns blank in every row are dropped; so are the axis columns with one value in every
    row that has one (returned, to be said once above the table). Scores show one decimal.
    """
    import pandas as pd

    constant: dict[str, Any] = {}
    keep = []
    for col in df.columns:
        values = [v for v in df[col] if not blank(v)]
        if col == "job" or not values:
            continue
        if col in AXIS_COLUMNS and len(df) > 1 and len({repr(v) for v in values}) == 1:
            constant[col] = values[0]
            continue
        keep.append(col)
    text = pd.DataFrame(
        {
            col: [
                md_cell(v) if col in NON_SCORE_COLUMNS or blank(v) else f"{v:.1f}" for v in df[col]
            ]
            for col in keep
        }
    )
    numeric = {col for col in keep if pd.api.types.is_numeric_dtype(df[col])}
    return pipe_table(text, right=numeric), constant


def constant_line(constant: dict[str, Any]) -> str:
    """ "Every cell: model `tiny-llama`, quant `none`." for the columns markdown_table left out."""
    return "Every cell: " + ", ".join(f"{k} `{md_cell(v)}`" for k, v in constant.items()) + "."


def paired_table(diffs: Sequence[tuple[Cell, PairedDifference]]) -> str:
    """One row per cell: questions, mean difference and CI in percentage points, verdict."""
    import pandas as pd

    rows = [
        {
            "cell": md_cell(c.label),
            "questions": str(d.n),
            "difference": f"{100 * d.mean:+.1f}",
            "95% CI": f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}]",
            "verdict": d.verdict,
        }
        for c, d in diffs
    ]
    return pipe_table(pd.DataFrame(rows), right={"questions", "difference"})


def report_markdown(
    sweep_dir: Path,
    cells: Sequence[Cell],
    metric: str,
    md_table: str,
    paired: tuple[Cell | None, Sequence[tuple[Cell, PairedDifference]]],
    plots: Sequence[Path],
    out_dir: Path,
    sections: Sequence[str] = (),
) -> str:
    """The whole report.md; `md_table` is markdown_table's table (with its constant line),
    `sections` the lines of the evaluation sections, put after the paired differences."""
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
    ]
    ranked = sorted(with_metric(cells, metric), key=lambda c: -c.scores[metric])
    if ranked:
        best = ranked[0]
        lines += [f"Best `{metric}`: **{best.label}** ({100 * best.scores[metric]:.1f}%).", ""]
    lines += [
        "## Results",
        "",
        "Scores in % of questions. `train_seconds` is the time spent training the cell's "
        "adapter, also when it was reused from the cache (`reused`); `–` marks an axis that "
        "does not apply to the approach.",
        "",
        md_table,
        "",
    ]
    ref, diffs = paired
    if ref is not None and diffs:
        lines += [
            f"## Paired differences vs {ref.label}",
            "",
            f"Mean per-question difference in `{metric}` (percentage points) on the questions "
            "both cells answered, with a paired bootstrap 95% CI.",
            "",
            paired_table(diffs),
            "",
        ]
    lines += sections
    if plots:
        lines += ["## Plots", ""]
        for p in plots:
            key = next((k for k, f in PLOT_FILES.items() if f == p.name), "")
            rel = os.path.relpath(p, out_dir).replace(os.sep, "/")
            lines += [f"![{p.stem}]({rel})", "", CAPTIONS.get(key, ""), ""]
    lines += ["## Failed cells", "", *_failed(bad)]
    return "\n".join(lines).rstrip() + "\n"


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
