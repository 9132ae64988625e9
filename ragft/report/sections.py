"""report.md's evaluation sections and report.csv's matching columns, each only with its data.

Known vs unknown   every cell split by what the `base` cell already answered right
Abstention         accuracy, abstention, hallucination and CRAG, answerable / unanswerable
Judge              the LLM judge's mean rating and its rank agreement with `contains`
Human evaluation   people's ratings beside the judge's, Cohen's kappa
Control set        the control-set score, the base model's, and the drop
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ragft.report.cells import Cell
from ragft.report.evaluation import (
    ABSTENTION_SCORES,
    abstention_rows,
    control_rows,
    human_rows,
    judge_rows,
    part,
)
from ragft.report.markdown import md_cell, pipe_table
from ragft.report.stats import base_seeds, known_unknown_split

# Scores shown in their section only, not in the Results table (report.csv has them all).
SECTION_ONLY = (*(s for s in ABSTENTION_SCORES if s != "crag"), "control", "control_base")
UNDEFINED = "–"  # a correlation or kappa that is undefined (too few, or constant, ratings)
JUDGE_AGAINST = "contains"


def pct(v: float | None) -> str:
    """A fraction as % with one decimal; blank for None."""
    return "" if v is None else f"{100 * v:.1f}"


def coef(v: float | None) -> str:
    """A correlation or kappa with two decimals; UNDEFINED for None."""
    return UNDEFINED if v is None else f"{v:.2f}"


def _table(rows: list[dict[str, str]], left: tuple[str, ...] = ("cell",)) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    return pipe_table(df, right={c for c in df.columns if c not in left})


def known_section(cells: Sequence[Cell], metric: str) -> list[str]:
    base, splits = known_unknown_split(cells, metric)
    if base is None or not splits:
        return []
    rows = [
        {
            "cell": md_cell(c.label),
            "known_n": str(s.known_n),
            f"known_{metric}": pct(s.known),
            "unknown_n": str(s.unknown_n),
            f"unknown_{metric}": pct(s.unknown),
        }
        for c, s in splits
    ]
    by = md_cell(base.label)
    if base_seeds(cells) > 1:
        by = "base of the same seed"
    return [
        f"## Known vs unknown (by {by})",
        "",
        f"`{metric}` (%) of each cell on the answerable questions {by} "
        f"answered right (known: facts the model already knew) and on the others (unknown: "
        "knowledge the approach had to bring), matched by question id.",
        "",
        _table(rows),
        "",
    ]


def abstention_section(cells: Sequence[Cell], has_plot: bool) -> list[str]:
    found = abstention_rows(cells)
    if not found:
        return []
    names = {
        "accuracy": "accuracy",
        "abstain_rate": "abstain",
        "hallucination_rate": "hallucination",
        "crag": "CRAG",
        "answerable_accuracy": "answerable: accuracy",
        "answerable_abstain_rate": "answerable: abstain",
        "answerable_hallucination_rate": "answerable: hallucination",
        "unanswerable_abstain_rate": "unanswerable: abstain",
        "unanswerable_hallucination_rate": "unanswerable: hallucination",
    }
    rows = []
    for r in found:
        counts = [md_cell(n) if n is not None else "?" for n in (r.n_answerable, r.n_unanswerable)]
        row = {"cell": md_cell(r.cell.label), "questions (ans. / unans.)": " / ".join(counts)}
        row.update({title: pct(r.scores.get(key)) for key, title in names.items()})
        rows.append(row)
    return [
        "## Abstention",
        "",
        "In % of questions. Accuracy: answered right; abstain: said it does not know; "
        "hallucination: answered, and wrongly. CRAG = accuracy − hallucination rate (right "
        "+1, abstained 0, wrong −1): a system that abstains when it does not know beats one "
        "that guesses. Answerable questions have a right answer; on unanswerable ones the "
        "right response is to abstain, so every answer there is a hallucination.",
        "",
        _table(rows, left=("cell", "questions (ans. / unans.)")),
        "",
        *(["Accuracy against hallucination rate: see the plot below.", ""] if has_plot else []),
    ]


def judge_section(cells: Sequence[Cell]) -> list[str]:
    found, (pooled_n, pooled_rho) = judge_rows(cells, JUDGE_AGAINST)
    if not found:
        return []
    rows = [
        {
            "cell": md_cell(r.cell.label),
            "judge": pct(r.score),
            "rated": md_cell(r.rated),
            "missing": md_cell(r.missing),
            "n": str(r.n),
            f"ρ vs {JUDGE_AGAINST}": coef(r.rho),
        }
        for r in found
    ]
    rows.append(
        {"cell": "all cells (pooled)", "judge": "", "rated": "", "missing": "",
         "n": str(pooled_n), f"ρ vs {JUDGE_AGAINST}": coef(pooled_rho)}
    )  # fmt: skip
    judge = part(found[0].cell, "judge")
    who = (
        f"Judge: `{md_cell(judge['backend'])}`, ratings 1–{md_cell(judge.get('scale', 10))}. "
        if judge.get("backend")
        else ""
    )
    return [
        "## Judge",
        "",
        f"{who}`judge` is the mean rating, normalised to % ((rating − 1) / (scale − 1)); "
        "`rated` and `missing` count the questions it rated and those it gave no usable "
        "rating (left out, never counted as 0). ρ is Spearman's rank correlation between "
        f"the judge's rating and `{JUDGE_AGAINST}`, question by question over the cell's "
        "rated answerable questions (`n`); the last row pools every cell's. How to read it: "
        f"a high ρ (near 1) means the judge ranks answers the way `{JUDGE_AGAINST}` does, so "
        "its scores can be trusted as far as string matching can, and it adds what matching "
        "misses (paraphrases, long answers); near 0 or below, the two disagree: read some "
        "answers and the judge's explanations (predictions.jsonl) before trusting either. "
        f"{UNDEFINED}: undefined (under 2 questions, or one side constant).{_none_rated(found)}",
        "",
        _table(rows),
        "",
    ]


def _none_rated(found) -> str:
    if any(r.rated for r in found):
        return ""
    return (
        " **No answer was rated**: every reply lacked a usable rating after the retries "
        "(the judge model may not follow the format; its replies are in predictions.jsonl)."
    )


def human_section(cells: Sequence[Cell], ratings: dict[str, dict[str, int]]) -> list[str]:
    found = human_rows(cells, ratings)
    if not found:
        return []
    rows = [
        {
            "cell": md_cell(r.cell.label if r.cell else "all cells"),
            "rated": str(r.rated),
            "human mean": f"{r.mean:.2f}",
            "both": str(r.both),
            "judge mean": "" if r.judge_mean is None else f"{r.judge_mean:.2f}",
            "kappa (quadratic)": coef(r.kappa_quadratic),
            "kappa (unweighted)": coef(r.kappa),
        }
        for r in found
    ]
    return [
        "## Human evaluation",
        "",
        "Ratings 1–10 from `python scripts/human_eval.py import` (`rated` answers), beside "
        "the judge's mean rating of the same answers (`both`: rated by a person and by the "
        "judge; a judge on another scale is mapped onto 1–10). Agreement is Cohen's kappa "
        "over those answers: with quadratic weights (a disagreement costs the square of its "
        "distance on the scale, so 7 against 8 is nearly agreement) and unweighted (only "
        f"the same rating agrees). 1: perfect agreement, 0: what chance gives. {UNDEFINED}: "
        "undefined (no answer rated by both, or both gave one and the same rating).",
        "",
        _table(rows),
        "",
    ]


def control_section(cells: Sequence[Cell]) -> list[str]:
    found = control_rows(cells)
    if not found:
        return []
    rows = [
        {
            "cell": md_cell(r.cell.label),
            "questions": md_cell(r.n),
            "control": pct(r.control),
            "control_base": pct(r.base),
            "control_drop": "" if r.drop is None else f"{100 * r.drop:+.1f}",
        }
        for r in found
    ]
    return [
        "## Control set",
        "",
        "`contains` (%) on the control set, general questions the base model answers right, "
        "for each cell (`control`) and for the base model (`control_base`); `control_drop` = "
        "control_base − control in percentage points: what fine-tuning made the model forget, "
        "or what irrelevant retrieved passages distracted it from (negative: it did better).",
        "",
        _table(rows),
        "",
    ]


def evaluation_sections(
    cells: Sequence[Cell], metric: str, ratings: dict[str, dict[str, int]], has_plot: bool
) -> list[str]:
    """Every section the sweep has data for, in report order (no lines without any)."""
    return [
        *known_section(cells, metric),
        *abstention_section(cells, has_plot),
        *judge_section(cells),
        *human_section(cells, ratings),
        *control_section(cells),
    ]


def extra_columns(
    cells: Sequence[Cell], metric: str, ratings: dict[str, dict[str, int]]
) -> dict[str, list[Any]]:
    """report.csv's columns for the sections above, a value per cell (None where it has none).

    Scores in % (one decimal) like the table's; correlations and kappas with 3 decimals.
    """
    known = {id(c): s for c, s in known_unknown_split(cells, metric)[1]}
    judged = {id(r.cell): r for r in judge_rows(cells, JUDGE_AGAINST)[0]}
    humans = {id(r.cell): r for r in human_rows(cells, ratings) if r.cell is not None}
    spec: list[tuple[dict[int, Any], str, str, Callable[[Any], Any]]] = [
        (known, "known_n", "known_n", _same),
        (known, f"known_{metric}", "known", _percent),
        (known, "unknown_n", "unknown_n", _same),
        (known, f"unknown_{metric}", "unknown", _percent),
        (judged, "judge_rated", "rated", _same),
        (judged, "judge_missing", "missing", _same),
        (judged, "judge_rho", "rho", _round),
        (humans, "human_rated", "rated", _same),
        (humans, "human_mean", "mean", _round),
        (humans, "human_judge_kappa", "kappa_quadratic", _round),
    ]
    return {
        name: [fmt(getattr(found[id(c)], attr)) if id(c) in found else None for c in cells]
        for found, name, attr, fmt in spec
        if found
    }


def _same(v: Any) -> Any:
    return v


def _percent(v: float | None) -> float | None:
    return None if v is None else round(100 * v, 1)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
