"""The sweep as pandas tables: a row per pooled row (report.csv), a row per cell (cells.csv).

Both have the axes (the lora axis shows the rank), every score in % and the cost figures.
A row of report.csv pools the cells that differ only in seed: its scores and costs are the
means over seeds, `<score>_sd` the standard deviations across them (when seeds vary), and
`seeds` how many finished; cells.csv keeps each seed's values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ragft.metrics import metric_sort_key
from ragft.report.cells import Cell
from ragft.report.evaluation import EVAL_ORDER
from ragft.report.rows import Row, seeds_vary

if TYPE_CHECKING:  # pandas loads on first use: reading cells does not need it
    import pandas as pd

# Cost figures, by their results.json names (`Cost.figure`); train_seconds is special.
COST_COLUMNS = (
    "train_seconds",
    "seconds_per_question",
    "total_seconds",
    "peak_memory_mb",
    "adapter_mb",
    "prompt_tokens_per_question",
    "trainable_parameters",
)
STATUS_COLUMNS = ("reused", "status", "error")
SD = "_sd"  # a score's standard deviation across seeds: f"{score}{SD}"
_WHOLE_NUMBERS = ("seed", "seeds", "n_eval", "trainable_parameters")


def axis_column(axis: str) -> str:
    """The table column of an axis: "lora_r" for the lora axis, else the axis's name."""
    return "lora_r" if axis == "lora" else axis


def non_score_columns(df: pd.DataFrame) -> set[str]:
    """Every column of a report table that is not a score (or a score's sd)."""
    fixed = {"job", "row", "cell", "seeds", "n_eval", *COST_COLUMNS, *STATUS_COLUMNS}
    return fixed | set(df.attrs.get("axes", ()))


def score_sort_key(name: str) -> tuple[int, int, str]:
    """The one metric order (exact_match, f1, contains, ..., mrr), then the evaluation's
    scores (semantic, faithfulness, judge, abstention, control), then any other by name."""
    rank = EVAL_ORDER.index(name) if name in EVAL_ORDER else len(EVAL_ORDER)
    first, _ = metric_sort_key(name)
    return (first, rank, name)


def score_names(cells: Sequence[Cell]) -> list[str]:
    """Every score any ok cell has, in the one metric order (exact_match, f1, contains, ...)."""
    return sorted({k for c in cells if c.ok for k in c.scores}, key=score_sort_key)


def short_error(error: str, width: int = 100) -> str:
    """One line: the first non-empty line (with what follows, when it ends in a colon)."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    text = " ".join(lines) if lines[0].endswith(":") else lines[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[Row]) -> pd.DataFrame:
    """report.csv: one line per row: axes, every score in % (1 decimal; mean over seeds, and
    its sd when seeds vary), cost means, status, error. `df.attrs["axes"]` names the axis
    columns.

    `train_seconds` is the time spent training the row's adapter, also when a cell reused an
    adapter trained by another cell (`reused` says so).
    """
    cells = [c for r in rows for c in r.cells]
    metrics = score_names(cells)
    pooled = seeds_vary(rows)
    lines = [_pooled_line(r, metrics, pooled) for r in rows]
    return _frame(lines, [c for c in _axes(cells) if c != "seed" or not pooled])


def cells_table(cells: Sequence[Cell], rows: Sequence[Row] = ()) -> pd.DataFrame:
    """cells.csv: one line per cell (each seed's own values), with the row it pools into."""
    metrics = score_names(cells)
    row_of = {id(c): r.label for r in rows for c in r.cells}
    lines = []
    for c in cells:
        line = {"job": c.job, "row": row_of.get(id(c), c.label), "cell": c.label}
        line.update(_axis_values(c.axes))
        line["n_eval"] = c.n_eval
        for m in metrics:
            v = c.scores.get(m)
            line[m] = round(100 * float(v), 1) if v is not None else math.nan
        figures = c.cost.to_json()  # flat, as results.json has them
        for key in COST_COLUMNS:
            v = c.train_seconds if key == "train_seconds" else figures.get(key)
            line[key] = v if v is not None else math.nan
        line.update(reused=_reused([c]), status=c.status, error=short_error(c.error))
        lines.append(line)
    return _frame(lines, _axes(cells))


def _axes(cells: Sequence[Cell]) -> list[str]:
    return [axis_column(a) for a in (cells[0].axes if cells else {})]


def _axis_values(axes: dict[str, Any]) -> dict[str, Any]:
    return {axis_column(a): v for a, v in axes.items()}


def _pooled_line(r: Row, metrics: Sequence[str], pooled: bool) -> dict[str, Any]:
    line: dict[str, Any] = {"job": r.cells[0].job, "row": r.label, **_axis_values(r.axes)}
    if pooled:
        line["seeds"] = len(r.ok_cells)
    else:
        line["seed"] = r.cells[0].axes.get("seed")
    line["n_eval"] = r.n_eval
    for m in metrics:
        v, sd = r.score(m), r.sd(m)
        line[m] = round(100 * v, 1) if v is not None else math.nan
        if pooled:
            line[m + SD] = round(100 * sd, 1) if sd is not None else math.nan
    for key in COST_COLUMNS:
        v = r.cost(key)
        line[key] = v if v is not None else math.nan
    errors = [c.error for c in r.cells if c.error and not c.ok]
    line.update(reused=_reused(r.ok_cells), status=r.status,
                error=short_error(errors[0]) if errors and not r.ok else "")  # fmt: skip
    return line


def _reused(cells: Sequence[Cell]) -> str:
    """ "cell", "adapter" or "cell+adapter": what some of the cells took from the cache."""
    reused = []
    if any(c.cost.cell_cache_hit for c in cells):
        reused.append("cell")
    if any(c.cost.train and c.cost.train.train_cache_hit for c in cells):
        reused.append("adapter")
    return "+".join(reused)


def _frame(lines: list[dict[str, Any]], axes: list[str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(lines)
    for col in _WHOLE_NUMBERS:  # whole numbers, also beside NaN
        if col not in df:
            continue
        numbers = pd.to_numeric(df[col], errors="coerce")
        if df[col].isna().equals(numbers.isna()) and (numbers.dropna() % 1 == 0).all():
            df[col] = numbers.astype("Int64")
    df.attrs["axes"] = tuple(axes)
    return df
