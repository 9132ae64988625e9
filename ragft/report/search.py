"""The search section of a report: what a hyperparameter search (`hydra/sweeper=optuna`,
ragft/search.py) found, from the sweep's search.json.

The trials scored a validation split of the training questions; the best trial's settings
were then trained on all training questions and scored once on the eval questions. Only
that last figure estimates how the settings do on new questions, so the section puts it
first, and the decision of a search sweep ranks the trials (validation rows) only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragft.report.rows import Row
from ragft.search import RECORD  # light: Optuna loads inside its functions

SPLIT_AXIS = "data.evaluate_on"


def read_search(sweep_dir: Path) -> dict[str, Any] | None:
    """search.json, or None when the sweep was no search (or the file is unreadable)."""
    try:
        doc = json.loads((Path(sweep_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("trials"), list) else None


def tuning_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows the search chose among: those not scored on the eval questions."""
    return [r for r in rows if r.axes.get(SPLIT_AXIS) != "eval"]


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _settings(params: dict[str, Any]) -> str:
    return ", ".join(
        f"`{k}={v:.4g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in params.items()
    )


def search_lines(doc: dict[str, Any], metric: str) -> list[str]:
    """## Search: the best trial's eval score (the figure to report), then every trial."""
    trials = doc["trials"]
    done = [t for t in trials if t.get("state") == "COMPLETE"]
    best = doc.get("best")
    lines = ["## Search", ""]
    if best:
        lines += [
            f"Best of {len(done)} completed trials by validation `{metric}`: trial "
            f"{best['trial']} ({_settings(best['params'])}). Trained on all training questions "
            f"and scored once on the eval questions: **{_pct(best.get('eval_score'))}** "
            f"(validation: {_pct(best.get('validation_score'))}). Report the eval figure; the "
            "validation figures chose the settings and are optimistic for them.",
            "",
        ]
    else:
        lines += ["No trial completed, so there is no best trial and no eval score.", ""]
    sign = 1 if doc.get("direction") == "minimize" else -1  # the best trial first
    ordered = sorted(trials, key=lambda t: (t.get("value") is None, sign * (t.get("value") or 0)))
    lines += ["| trial | settings | validation | state |", "|---:|:---|---:|:---|"]
    for t in ordered:
        state = t["state"].lower() + (" (interrupted, asked again)" if t.get("interrupted") else "")
        lines.append(
            f"| {t['number']} | {_settings(t['params'])} | {_pct(t.get('value'))} | {state} |"
        )
    return [*lines, ""]
