"""A sweep, read back: one table and a few plots from the files its cells wrote.

    rep = build_report(Path("multirun/2026-11-22/14-50-00"))
    print(rep.markdown_table)  # also in <sweep>/report/report.md, report.csv and PNGs

Plain paths in, no config: every figure comes from each cell folder's `results.json` (read
through `CellResult`) and `predictions.jsonl`. The parts, in the order a report is built:

    cells      cell folders -> typed `Cell`s (missing, failed and unreadable ones included)
    axes       a cell's axis values (approaches.AXES, `applies`) and its short label
    tables     the pandas table: a row per cell (report.csv)
    stats      the reference cell and paired bootstrap differences against it
    figures    plots' shared canvas (Agg, never pyplot), colours and atomic PNG save
    plots      the four PNGs
    markdown   report.md (tables through DataFrame.to_markdown)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragft.errors import RagftError
from ragft.files import atomic_write_text
from ragft.report.axes import NA
from ragft.report.cells import Cell, load_cells, newest_sweep
from ragft.report.figures import PLOT_FILES
from ragft.report.markdown import constant_line, markdown_table, report_markdown
from ragft.report.plots import (
    PLOTS,
    plot_paired_differences,
    plot_scores,
    plot_vs_cost,
    plot_vs_lora_rank,
)
from ragft.report.stats import (
    PairedDifference,
    paired_difference,
    paired_differences,
    reference_cell,
)
from ragft.report.tables import COST_COLUMNS, score_names, table

__all__ = [
    "COST_COLUMNS",
    "DEFAULT_METRIC",
    "NA",
    "PLOT_FILES",
    "Cell",
    "PairedDifference",
    "Report",
    "build_report",
    "load_cells",
    "markdown_table",
    "newest_sweep",
    "paired_difference",
    "paired_differences",
    "plot_paired_differences",
    "plot_scores",
    "plot_vs_cost",
    "plot_vs_lora_rank",
    "reference_cell",
    "score_names",
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

    df = table(cells)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
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

    md_table, constant = markdown_table(df)
    if constant:  # said once, above the table
        md_table = f"{constant_line(constant)}\n\n{md_table}"
    paired = paired_differences(cells, metric)
    text = report_markdown(sweep_dir, cells, metric, md_table, paired, plots, out_dir)
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
