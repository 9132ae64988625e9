"""A sweep, read back: one table and a few plots from the files its cells wrote.

    rep = build_report(Path("multirun/2026-11-22/14-50-00"))
    print(rep.markdown_table)  # also in <sweep>/report/report.md, report.csv and PNGs

Plain paths in, no config: every figure comes from each cell folder's `results.json` (read
through `CellResult`) and `predictions.jsonl`. The parts, in the order a report is built:

    cells      cell folders -> typed `Cell`s (missing, failed and unreadable ones included)
    axes       a cell's axis values (approaches.AXES, `applies`) and its short label
    tables     the pandas table: a row per cell (report.csv)
    stats      the reference cell, paired bootstrap differences, known vs unknown, and the
               agreement statistics (Spearman's rho, Cohen's kappa)
    evaluation abstention, judge, control and human-rating figures per cell (pure reads)
    figures    plots' shared canvas (Agg, never pyplot), colours and atomic PNG save
    plots      the four PNGs, and eval_plots' accuracy vs hallucination rate
    markdown   report.md (tables through DataFrame.to_markdown)
    sections   report.md's evaluation sections and report.csv's columns for them
    human      the blinded rating sheet out, its ratings in (scripts/human_eval.py)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragft.errors import RagftError
from ragft.files import atomic_write_text
from ragft.report.axes import NA
from ragft.report.cells import Cell, load_cells, newest_sweep
from ragft.report.eval_plots import plot_accuracy_vs_hallucination
from ragft.report.figures import PLOT_FILES
from ragft.report.human import export_sheet, import_sheet, read_ratings
from ragft.report.markdown import constant_line, markdown_table, report_markdown
from ragft.report.plots import (
    PLOTS,
    plot_paired_differences,
    plot_scores,
    plot_vs_cost,
    plot_vs_lora_rank,
)
from ragft.report.sections import SECTION_ONLY, evaluation_sections, extra_columns
from ragft.report.stats import (
    KnownSplit,
    PairedDifference,
    kappa,
    known_unknown,
    known_unknown_split,
    paired_difference,
    paired_differences,
    reference_cell,
    spearman,
)
from ragft.report.tables import COST_COLUMNS, score_names, table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_COLUMNS",
    "DEFAULT_METRIC",
    "NA",
    "PLOT_FILES",
    "Cell",
    "KnownSplit",
    "PairedDifference",
    "Report",
    "build_report",
    "export_sheet",
    "import_sheet",
    "kappa",
    "known_unknown",
    "known_unknown_split",
    "load_cells",
    "markdown_table",
    "newest_sweep",
    "paired_difference",
    "paired_differences",
    "plot_accuracy_vs_hallucination",
    "plot_paired_differences",
    "plot_scores",
    "plot_vs_cost",
    "plot_vs_lora_rank",
    "read_ratings",
    "reference_cell",
    "score_names",
    "spearman",
    "sweep_metric",
    "table",
]

DEFAULT_METRIC = "contains"


@dataclass(frozen=True)
class Report:
    """What build_report wrote."""

    markdown: str  # the whole report.md
    markdown_table: str  # the table (and a line naming what every cell shares), for a terminal
    csv_path: Path
    markdown_path: Path
    plots: list[Path]
    n_ok: int
    n_failed: int
    n_missing: int
    metric: str


def sweep_metric(cells: Sequence[Cell], metric: str | None = None) -> str:
    """`metric` if some ok cell has it, else the cells' primary metric (default `contains`)."""
    available = score_names(cells)
    if metric is None:
        metric = next(
            (c.primary_metric for c in cells if c.ok and c.primary_metric), DEFAULT_METRIC
        )
        if available and metric not in available:
            metric = available[0]
        return metric
    if available and metric not in available:
        raise RagftError(
            f"metric {metric!r} is in no cell's scores; available: {', '.join(available)}"
        )
    return metric


def build_report(sweep_dir: Path, out_dir: Path | None = None, metric: str | None = None) -> Report:
    """Table, plots and report.md / report.csv for a sweep folder (in <sweep>/report/)."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    cells = load_cells(sweep_dir)
    metric = sweep_metric(cells, metric)
    out_dir.mkdir(parents=True, exist_ok=True)

    ratings = read_ratings(sweep_dir)
    df = table(cells)
    buf = io.StringIO()
    _with_columns(df, extra_columns(cells, metric, ratings)).to_csv(buf, index=False)
    csv_path = out_dir / "report.csv"
    atomic_write_text(csv_path, buf.getvalue())

    plots: list[Path] = []
    for key, plot in PLOTS.items():
        target = out_dir / PLOT_FILES[key]
        path = plot(cells, metric, target)
        if path is None:
            target.unlink(missing_ok=True)  # a stale plot from an earlier, different report
        else:
            plots.append(path)

    # the Results table leaves out the scores that only their own section shows
    md_table, constant = markdown_table(df.drop(columns=[*SECTION_ONLY], errors="ignore"))
    if constant:  # said once, above the table
        md_table = f"{constant_line(constant)}\n\n{md_table}"
    paired = paired_differences(cells, metric)
    has_plot = any(p.name == PLOT_FILES["abstention"] for p in plots)
    sections = evaluation_sections(cells, metric, ratings, has_plot)
    text = report_markdown(sweep_dir, cells, metric, md_table, paired, plots, out_dir, sections)
    md_path = out_dir / "report.md"
    atomic_write_text(md_path, text)
    return Report(
        markdown=text,
        markdown_table=md_table,
        csv_path=csv_path,
        markdown_path=md_path,
        plots=plots,
        n_ok=sum(c.status == "ok" for c in cells),
        n_failed=sum(c.status == "failed" for c in cells),
        n_missing=sum(c.status == "missing" for c in cells),
        metric=metric,
    )


def _with_columns(df: pd.DataFrame, extra: dict[str, list]) -> pd.DataFrame:
    """`df` with the evaluation sections' columns after the scores (before the costs);
    counts stay whole numbers beside the blanks."""
    import pandas as pd

    out = df.copy()
    at = list(out.columns).index(COST_COLUMNS[0])
    for i, (name, values) in enumerate(extra.items()):
        col = pd.Series(values, dtype="object", index=out.index)
        whole = all(isinstance(v, int) for v in values if v is not None)
        out.insert(at + i, name, col.astype("Int64") if whole else pd.to_numeric(col))
    return out
