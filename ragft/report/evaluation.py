"""What the richer evaluation of a cell says, read from its files: abstention, judge, control.

Cells write these scores (fractions, in results.json "scores") and counts (its "evaluation"
dict, and per question in predictions.jsonl) only when they were asked for; every function
here returns nothing for a sweep without them, so its report keeps its old sections only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragft.report.cells import Cell, answerable
from ragft.report.stats import kappa, spearman

# The scores of a cell whose eval set has unanswerable questions or whose prompt lets it
# abstain: CRAG's accuracy (right), abstention (says it does not know) and hallucination
# (answers and is wrong), with crag = accuracy - hallucination_rate, split by answerability.
ABSTENTION_SCORES = (
    "accuracy",
    "abstain_rate",
    "hallucination_rate",
    "crag",
    "answerable_accuracy",
    "answerable_abstain_rate",
    "answerable_hallucination_rate",
    "unanswerable_abstain_rate",
    "unanswerable_hallucination_rate",
)
# metrics.control=true: the cell's and the base model's `contains` on the control set, and
# control_drop = control_base - control (what the cell lost; negative: it gained).
CONTROL_SCORES = ("control", "control_base", "control_drop")
# Per-question scores besides the answer metrics (semantic similarity, faithfulness to the
# retrieved passages, the judge's normalised rating (r - 1) / (scale - 1)).
EXTRA_SCORES = ("semantic", "faithfulness", "judge")
EVAL_ORDER = (*EXTRA_SCORES, *ABSTENTION_SCORES, *CONTROL_SCORES)


def part(cell: Cell, name: str) -> dict[str, Any]:
    """One part of the cell's results.json "evaluation" ("judge", ...), {} when absent."""
    value = cell.evaluation.get(name)
    return value if isinstance(value, dict) else {}


def recorded(cell: Cell, name: str, key: str) -> int | None:
    """A count from the cell's results.json "evaluation" (None when it is not there)."""
    value = part(cell, name).get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return int(value) if ok else None


@dataclass(frozen=True)
class AbstentionRow:
    cell: Cell
    scores: dict[str, float]  # the ABSTENTION_SCORES the cell has
    n_answerable: int | None
    n_unanswerable: int | None


def abstention_rows(cells: Sequence[Cell]) -> list[AbstentionRow]:
    """The ok cells with abstention scores, with their answerable / unanswerable counts.

    The counts come from results.json's evaluation.abstention, else from predictions.jsonl
    (None without either).
    """
    out = []
    for c in cells:
        scores = {k: c.scores[k] for k in ABSTENTION_SCORES if k in c.scores}
        if not c.ok or not scores:
            continue
        n_ans = recorded(c, "abstention", "n_answerable")
        n_unans = recorded(c, "abstention", "n_unanswerable")
        rows = list(c.rows().values())
        if rows and n_ans is None:
            n_ans = sum(answerable(r) for r in rows)
        if rows and n_unans is None:
            n_unans = sum(not answerable(r) for r in rows)
        out.append(AbstentionRow(c, scores, n_ans, n_unans))
    return out


@dataclass(frozen=True)
class JudgeRow:
    cell: Cell
    score: float | None  # the mean normalised rating, a fraction (None: nothing rated)
    rated: int | None
    missing: int | None
    n: int  # answerable questions with both a rating and the metric compared against
    rho: float | None  # Spearman's rank correlation of the rating with that metric


def judge_pairs(cell: Cell, against: str) -> list[tuple[float, float]]:
    """(judge rating, `against`) for the cell's rated answerable questions, by question id."""
    judge = cell.per_question("judge", answerable_only=True)
    other = cell.per_question(against, answerable_only=True)
    return [(judge[q], other[q]) for q in sorted(set(judge) & set(other))]


def _judge_counts(cell: Cell) -> tuple[int | None, int | None]:
    """(rated, missing): results.json's evaluation.judge, else the rows' "judge" dicts."""
    rated, missing = recorded(cell, "judge", "rated"), recorded(cell, "judge", "missing")
    judged = [r["judge"] for r in cell.rows().values() if isinstance(r.get("judge"), dict)]
    if judged and rated is None:
        rated = sum(j.get("rating") is not None for j in judged)
    if judged and missing is None:
        missing = sum(j.get("rating") is None for j in judged)
    return rated, missing


def judge_rows(
    cells: Sequence[Cell], against: str = "contains"
) -> tuple[list[JudgeRow], tuple[int, float | None]]:
    """Each ok cell the judge ran in (a judge score, or a judge part in results.json's
    "evaluation" when every rating was missing), and the pooled (n, rho) over their pairs."""
    out, pooled = [], []
    for c in cells:
        if not c.ok or ("judge" not in c.scores and not part(c, "judge")):
            continue
        pairs = judge_pairs(c, against)
        pooled += pairs
        rated, missing = _judge_counts(c)
        rho = spearman([j for j, _ in pairs], [m for _, m in pairs])
        out.append(JudgeRow(c, c.scores.get("judge"), rated, missing, len(pairs), rho))
    rho = spearman([j for j, _ in pooled], [m for _, m in pooled])
    return out, (len(pooled), rho)


def judge_scale(cell: Cell) -> int:
    """The judge's rating scale (evaluation.judge.scale; 10, MT-Bench's, when unrecorded)."""
    scale = part(cell, "judge").get("scale")
    return int(scale) if isinstance(scale, (int, float)) and scale >= 2 else 10


@dataclass(frozen=True)
class ControlRow:
    cell: Cell
    control: float | None
    base: float | None
    drop: float | None
    n: int | None  # control questions


def control_rows(cells: Sequence[Cell]) -> list[ControlRow]:
    """The ok cells with control-set scores."""
    out = []
    for c in cells:
        if not c.ok or not any(k in c.scores for k in CONTROL_SCORES):
            continue
        n = part(c, "control").get("n")
        out.append(
            ControlRow(
                c,
                c.scores.get("control"),
                c.scores.get("control_base"),
                c.scores.get("control_drop"),
                int(n) if isinstance(n, (int, float)) else None,
            )
        )
    return out


# Human ratings (scripts/human_eval.py) are whole numbers 1..HUMAN_SCALE.
HUMAN_SCALE = 10


def judge_rating(row: dict[str, Any], scale: int) -> int | None:
    """The judge's rating of one predictions.jsonl row on the human scale (1..10).

    A judge on another scale is mapped linearly ((r - 1) / (scale - 1) onto 1..10, rounded),
    so kappa compares like with like; None where the judge gave no rating.
    """
    judge = row.get("judge")
    rating = judge.get("rating") if isinstance(judge, dict) else None
    if rating is not None:
        norm = (float(rating) - 1) / (scale - 1)
    elif row["metrics"].get("judge") is not None:
        norm = float(row["metrics"]["judge"])
    else:
        return None
    return min(max(round(1 + norm * (HUMAN_SCALE - 1)), 1), HUMAN_SCALE)


@dataclass(frozen=True)
class HumanRow:
    cell: Cell | None  # None: every cell's items pooled
    rated: int  # items a person rated
    mean: float  # their mean rating, 1..10
    both: int  # of those, items the judge rated too
    judge_mean: float | None  # the judge's mean on those items, 1..10
    kappa_quadratic: float | None  # Cohen's kappa over them, quadratic weights
    kappa: float | None  # unweighted


def _human_row(cell: Cell | None, human: list[int], pairs: list[tuple[int, int]]) -> HumanRow:
    h, j = [p[0] for p in pairs], [p[1] for p in pairs]
    return HumanRow(
        cell,
        len(human),
        sum(human) / len(human),
        len(pairs),
        sum(j) / len(j) if j else None,
        kappa(h, j, HUMAN_SCALE, "quadratic"),
        kappa(h, j, HUMAN_SCALE, None),
    )


def human_rows(cells: Sequence[Cell], ratings: dict[str, dict[str, int]]) -> list[HumanRow]:
    """Per ok cell with human ratings (by folder name), then all of them pooled (cell None)
    when there are several."""
    out: list[HumanRow] = []
    all_human: list[int] = []
    all_pairs: list[tuple[int, int]] = []
    for c in cells:
        mine = ratings.get(c.dir.name) or {}
        if not c.ok or not mine:
            continue
        rows, scale = c.rows(), judge_scale(c)
        pairs = []
        for qid, rating in sorted(mine.items()):
            judged = judge_rating(rows[qid], scale) if qid in rows else None
            if judged is not None:
                pairs.append((rating, judged))
        human = [mine[q] for q in sorted(mine)]
        out.append(_human_row(c, human, pairs))
        all_human += human
        all_pairs += pairs
    if len(out) > 1:
        out.append(_human_row(None, all_human, all_pairs))
    return out
