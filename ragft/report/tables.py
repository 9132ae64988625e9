"""The sweep as one pandas table: a row per cell with its axes, scores (in %) and costs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ragft.approaches import AXES
from ragft.metrics import metric_sort_key
from ragft.report.cells import Cell
from ragft.report.evaluation import EVAL_ORDER

if TYPE_CHECKING:  # pandas loads on first use: reading cells does not need it
    import pandas as pd

# Where a cell is in the grid: a column per axis (AXES order; the lora axis shows the
# rank), and n_eval, the number of questions it was scored on.
AXIS_COLUMN = {axis: "lora_r" if axis == "lora" else axis for axis in AXES}
AXIS_COLUMNS = (*AXIS_COLUMN.values(), "n_eval")
# Cost figures, by their results.json names (`Cost.figure`); train_seconds is special.
COST_COLUMNS = (
    "train_seconds",
    "seconds_per_question",
    "total_seconds",
    "peak_memory_mb",
    "adapter_mb",
    "trainable_parameters",
)
STATUS_COLUMNS = ("reused", "status", "error")
# Every column that is not a score.
NON_SCORE_COLUMNS = frozenset({"job", "cell", *AXIS_COLUMNS, *COST_COLUMNS, *STATUS_COLUMNS})
_WHOLE_NUMBERS = ("seed", "n_eval", "trainable_parameters")


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


def table(cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per cell: axes, every score in % (1 decimal), cost figures, status, error.

    `train_seconds` is the time spent training the cell's adapter, also when the cell reused
    an adapter trained by another cell (`reused` says so).
    """
    import pandas as pd

    metrics = score_names(cells)
    df = pd.DataFrame([_row(c, metrics) for c in cells])
    for col in _WHOLE_NUMBERS:  # whole numbers, also beside NaN
        numbers = pd.to_numeric(df[col], errors="coerce")
        if df[col].isna().equals(numbers.isna()) and (numbers.dropna() % 1 == 0).all():
            df[col] = numbers.astype("Int64")
    return df


def _row(c: Cell, metrics: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"job": c.job, "cell": c.label}
    for axis, col in AXIS_COLUMN.items():
        row[col] = c.approach if axis == "approach" else c.axes[axis]
    row["n_eval"] = c.n_eval
    for m in metrics:
        v = c.scores.get(m)
        row[m] = round(100 * float(v), 1) if v is not None else math.nan
    figures = c.cost.to_json()  # flat, as results.json has them
    for key in COST_COLUMNS:
        v = c.train_seconds if key == "train_seconds" else figures.get(key)
        row[key] = v if v is not None else math.nan
    reused = []
    if c.cost.cell_cache_hit:
        reused.append("cell")
    if c.cost.train and c.cost.train.train_cache_hit:
        reused.append("adapter")
    row["reused"] = "+".join(reused)
    row["status"] = c.status
    row["error"] = short_error(c.error)
    return row
