"""The report's rows: the cells that differ only in `seed`, pooled.

A row is one point of the sweep grid (an approach, a LoRA rank, a learning rate, ...) with
every seed it ran under. Its score is the mean over seeds of each seed's score, with the
standard deviation across seeds; its confidence interval resamples both seeds and questions
(`metrics.nested_bootstrap_ci`). A sweep without a seed axis has one cell per row, and its
rows are its cells.

Cells with the same axes and the same seed (e.g. `base` under three retrievers, which do not
apply to it) are one computation: the row keeps the first ok one of each seed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ragft.metrics import nested_bootstrap_ci
from ragft.report.axes import NA, is_number, label, varying_axes
from ragft.report.cells import Cell

SEED = "seed"


@dataclass(frozen=True)
class Row:
    """One point of the grid: its cells under every seed (failed and missing ones included)."""

    label: str
    approach: str
    axes: dict[str, Any]  # the sweep's axes but seed
    cells: tuple[Cell, ...]
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok_cells(self) -> tuple[Cell, ...]:
        """One ok cell per seed (the first in job order), in job order."""
        seen: dict[Any, Cell] = {}
        for c in self.cells:
            if c.ok:
                seen.setdefault(json.dumps(c.axes.get(SEED), default=str), c)
        return tuple(seen.values())

    @property
    def ok(self) -> bool:
        return bool(self.ok_cells)

    @property
    def status(self) -> str:
        """ "ok" when a seed finished, else the first cell's status."""
        return "ok" if self.ok else self.cells[0].status

    @property
    def seeds(self) -> tuple[Any, ...]:
        return tuple(c.axes.get(SEED) for c in self.ok_cells)

    @property
    def n_eval(self) -> int | None:
        return next((c.n_eval for c in self.ok_cells if c.n_eval is not None), None)

    def per_seed(self, metric: str) -> list[float]:
        """The score of each seed's cell that has `metric` (fractions)."""
        return [float(c.scores[metric]) for c in self.ok_cells if metric in c.scores]

    def score(self, metric: str) -> float | None:
        """Mean over seeds of the cells' `metric` (None: no ok cell has it)."""
        values = self.per_seed(metric)
        return float(np.mean(values)) if values else None

    def sd(self, metric: str) -> float | None:
        """Standard deviation across seeds (ddof 1); None under two seeds."""
        values = self.per_seed(metric)
        return float(np.std(values, ddof=1)) if len(values) > 1 else None

    def per_question(self, metric: str, answerable_only: bool = False) -> dict[tuple, float]:
        """{(seed, question id): value} over the row's seeds."""
        return {
            (json.dumps(c.axes.get(SEED), default=str), qid): v
            for c in self.ok_cells
            for qid, v in c.per_question(metric, answerable_only).items()
        }

    def ci(self, metric: str) -> tuple[float, float] | None:
        """95% CI of the score over questions and seeds (None without predictions)."""
        key = ("ci", metric)
        if key not in self._memo:
            groups = [np.array(list(c.per_question(metric).values())) for c in self.ok_cells]
            groups = [g for g in groups if g.size]
            self._memo[key] = nested_bootstrap_ci(groups) if groups else None
        return self._memo[key]

    def cost(self, key: str) -> float | None:
        """Mean over the row's ok cells of a cost figure (`train_seconds`, `adapter_mb`, ...)."""
        values = []
        for c in self.ok_cells:
            v = c.train_seconds if key == "train_seconds" else c.cost.figure(key)
            if is_number(v):
                values.append(float(v))
        return float(np.mean(values)) if values else None


def pool(cells: Sequence[Cell]) -> list[Row]:
    """The cells grouped by every axis but seed, in order of each group's first cell."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        axes = {k: v for k, v in c.axes.items() if k != SEED}
        groups.setdefault(json.dumps([c.approach, axes], default=str), []).append(c)
    firsts = [g[0] for g in groups.values()]
    varying = varying_axes([{k: v for k, v in c.axes.items() if k != SEED} for c in firsts])
    rows = []
    labels = [label(c.axes, varying, exclude=(SEED,)) or c.name or f"cell {c.job}" for c in firsts]
    for group, lab in zip(groups.values(), labels, strict=True):
        if labels.count(lab) > 1:  # axes that tell them apart are unknown (missing cells)
            lab = f"{lab} #{group[0].job}"
        axes = {k: v for k, v in group[0].axes.items() if k != SEED}
        rows.append(Row(lab, group[0].approach, axes, tuple(group)))
    return rows


def seeds_vary(rows: Sequence[Row]) -> bool:
    """Some row pools more than one seed."""
    return any(len(r.ok_cells) > 1 or len({repr(c.axes.get(SEED)) for c in r.cells}) > 1
               for r in rows)  # fmt: skip


def with_score(rows: Sequence[Row], metric: str) -> list[Row]:
    """The rows with a `metric` score."""
    return [r for r in rows if r.score(metric) is not None]


def applicable(v: Any) -> bool:
    return v is not None and v != NA
