"""A sweep, read back: a decision, tables and plots from the files its cells wrote.

    rep = build_report(Path("multirun/2026-11-22/14-50-00"))
    print(rep.decision)        # the verdict, also at the top of <sweep>/report/report.md
    print(rep.markdown_table)  # also in report.csv; cells.csv, comparisons.csv and PNGs beside

Plain paths in, no config: every figure comes from each cell folder's `results.json` (read
through `CellResult`) and `predictions.jsonl`. The parts, in the order a report is built:

    cells      cell folders -> typed `Cell`s (missing, failed and unreadable ones included)
    axes       the sweep's axes, found from what varies; a cell's values and its short label
    rows       the cells that differ only in seed, pooled into one `Row`
    compare    paired differences between rows (nested bootstrap CI, exact McNemar or
               permutation test), Holm's correction over all of them
    decision   the best row, its margin over the runner-up, costs, trade-offs; the Pareto front
    tables     the pandas tables: a line per row (report.csv) and per cell (cells.csv)
    stats      known vs unknown, and the agreement statistics (Spearman's rho, Cohen's kappa)
    evaluation abstention, judge, control and human-rating figures per cell (pure reads)
    figures    plots' shared canvas (Agg, never pyplot), colours and atomic PNG save
    plots      scores, score vs each numeric axis, the Pareto plot; compare_plots the
               difference matrix; eval_plots accuracy vs hallucination rate
    markdown   report.md (tables through DataFrame.to_markdown)
    sections   report.md's evaluation sections and the CSV columns for them
    human      the blinded rating sheet out, its ratings in (scripts/human_eval.py)
    search     a hyperparameter search's trials and its best trial's eval score
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragft.errors import RagftError
from ragft.files import atomic_write_text
from ragft.report.axes import NA
from ragft.report.cells import Cell, load_cells, newest_sweep
from ragft.report.compare import Comparison, comparisons, holm, mcnemar_exact, permutation_p
from ragft.report.compare_plots import plot_differences
from ragft.report.decision import Decision, decision, pareto_front, ranked
from ragft.report.eval_plots import plot_accuracy_vs_hallucination
from ragft.report.figures import PLOT_FILES, is_axis_plot
from ragft.report.human import export_sheet, import_sheet, read_ratings
from ragft.report.markdown import constant_line, markdown_table, report_markdown
from ragft.report.plots import axis_plots, plot_pareto, plot_scores, plot_vs_axis
from ragft.report.rows import Row, pool, seeds_vary
from ragft.report.search import read_search, search_lines, tuning_rows
from ragft.report.sections import SECTION_ONLY, evaluation_sections, extra_columns
from ragft.report.stats import KnownSplit, kappa, known_unknown, known_unknown_split, spearman
from ragft.report.tables import COST_COLUMNS, cells_table, score_names, table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_COLUMNS",
    "DEFAULT_METRIC",
    "NA",
    "PLOT_FILES",
    "Cell",
    "Comparison",
    "Decision",
    "KnownSplit",
    "Report",
    "Row",
    "axis_plots",
    "build_report",
    "cells_table",
    "comparisons",
    "decision",
    "export_sheet",
    "holm",
    "import_sheet",
    "kappa",
    "known_unknown",
    "known_unknown_split",
    "load_cells",
    "markdown_table",
    "mcnemar_exact",
    "newest_sweep",
    "pareto_front",
    "permutation_p",
    "plot_accuracy_vs_hallucination",
    "plot_differences",
    "plot_pareto",
    "plot_scores",
    "plot_vs_axis",
    "pool",
    "read_ratings",
    "score_names",
    "spearman",
    "sweep_metric",
    "table",
]

DEFAULT_METRIC = "contains"
OLD_PLOT_FILES = ("paired_differences.png",)  # what earlier reports wrote, removed on rebuild


@dataclass(frozen=True)
class Report:
    """What build_report wrote."""

    markdown: str  # the whole report.md
    markdown_table: str  # the table (and a line naming what every cell shares), for a terminal
    decision: str  # the decision's sentences ("" when no row has a score)
    csv_path: Path  # report.csv: a line per row
    cells_csv_path: Path  # cells.csv: a line per cell (each seed)
    comparisons_csv_path: Path
    markdown_path: Path
    plots: list[Path]
    n_ok: int
    n_failed: int
    n_missing: int
    metric: str
    comparisons: tuple[Comparison, ...] = ()
    verdict: Decision | None = None
    rows: tuple[Row, ...] = ()  # the rows the decision ranked (a search's: its trials)


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
    """The decision, tables, plots and report.md for a sweep folder (in <sweep>/report/)."""
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    cells = load_cells(sweep_dir)
    metric = sweep_metric(cells, metric)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = pool(cells)
    searched = read_search(sweep_dir)  # a search decides among its trials, not the eval row
    among = tuning_rows(rows) if searched else rows
    top = ranked(among, metric)[:2]  # best and runner-up: the decision's pair is always tested
    found = comparisons(among, metric, also=[tuple(top)] if len(top) == 2 else [])
    made = decision(among, found, metric)

    ratings = read_ratings(sweep_dir)
    extra = extra_columns(cells, metric, ratings)
    df = table(rows)
    csv_path = _write_csv(out_dir / "report.csv", _with_columns(df, _pooled(extra, cells, rows)))
    cells_csv = _write_csv(out_dir / "cells.csv", _with_columns(cells_table(cells, rows), extra))
    pairs_csv = _write_csv(out_dir / "comparisons.csv", comparisons_frame(found))

    plots = _plots(cells, rows, found, metric, out_dir)
    # the Results table leaves out the scores that only their own section shows
    shown = df.drop(columns=[c for c in df.columns if c.removesuffix("_sd") in SECTION_ONLY])
    md_table, constant = markdown_table(shown, df.attrs["axes"])
    if constant:  # said once, above the table
        md_table = f"{constant_line(constant)}\n\n{md_table}"
    has_plot = any(p.name == PLOT_FILES["abstention"] for p in plots)
    sections = evaluation_sections(cells, metric, ratings, has_plot)
    text = report_markdown(sweep_dir, cells, metric, md_table, made, found, plots, out_dir,
                           sections, pooled=seeds_vary(rows),
                           lead=search_lines(searched, metric) if searched else ())  # fmt: skip
    md_path = out_dir / "report.md"
    atomic_write_text(md_path, text)
    return Report(
        markdown=text,
        markdown_table=md_table,
        decision=made.text if made else "",
        csv_path=csv_path,
        cells_csv_path=cells_csv,
        comparisons_csv_path=pairs_csv,
        markdown_path=md_path,
        plots=plots,
        n_ok=sum(c.status == "ok" for c in cells),
        n_failed=sum(c.status == "failed" for c in cells),
        n_missing=sum(c.status == "missing" for c in cells),
        metric=metric,
        comparisons=tuple(found),
        verdict=made,
        rows=tuple(among),
    )


def _plots(
    cells: Sequence[Cell], rows: Sequence[Row], found: Sequence[Comparison], metric: str,
    out_dir: Path,
) -> list[Path]:  # fmt: skip
    """Every plot the sweep has what it needs for, in report order; stale ones removed."""
    made = [
        plot_scores(rows, metric, out_dir / PLOT_FILES["scores"]),
        *axis_plots(rows, metric, out_dir),
        plot_pareto(rows, metric, out_dir / PLOT_FILES["pareto"]),
        plot_differences(found, rows, metric, out_dir / PLOT_FILES["differences"]),
        plot_accuracy_vs_hallucination(cells, metric, out_dir / PLOT_FILES["abstention"]),
    ]
    plots = [p for p in made if p is not None]
    for old in out_dir.glob("*.png"):  # a plot of an earlier, different report
        known = old.name in (*PLOT_FILES.values(), *OLD_PLOT_FILES) or is_axis_plot(old.name)
        if known and old not in plots:
            old.unlink(missing_ok=True)
    return plots


def comparisons_frame(found: Sequence[Comparison]) -> pd.DataFrame:
    """comparisons.csv: every comparison, differences in percentage points."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "better": c.a.label,
                "than": c.b.label,
                "axis": c.axis or "",
                "pairs": c.n,
                "difference": round(100 * c.mean, 2),
                "ci_low": round(100 * c.low, 2),
                "ci_high": round(100 * c.high, 2),
                "test": c.test,
                "p": c.p,
                "p_holm": c.p_holm,
                "significant": c.significant,
                "better_only": c.a_only,
                "than_only": c.b_only,
            }
            for c in found
        ],  # fmt: skip
        columns=[
            "better",
            "than",
            "axis",
            "pairs",
            "difference",
            "ci_low",
            "ci_high",
            "test",
            "p",
            "p_holm",
            "significant",
            "better_only",
            "than_only",
        ],  # fmt: skip
    )


def _write_csv(path: Path, df: pd.DataFrame) -> Path:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_text(path, buf.getvalue())
    return path


def _pooled(extra: dict[str, list], cells: Sequence[Cell], rows: Sequence[Row]) -> dict:
    """The per-cell extra columns as one value per row: the mean over the row's seeds."""
    at = {id(c): i for i, c in enumerate(cells)}
    out: dict[str, list] = {}
    for name, values in extra.items():
        column: list[Any] = []
        for r in rows:
            mine = [values[at[id(c)]] for c in r.ok_cells if values[at[id(c)]] is not None]
            if not mine:
                column.append(None)
            elif all(isinstance(v, int) for v in mine) and len(set(mine)) == 1:
                column.append(mine[0])
            else:
                column.append(round(sum(mine) / len(mine), 3))
        out[name] = column
    return out


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
