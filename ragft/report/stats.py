"""Paired comparisons of cells on the same questions: the reference cell and the differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragft.metrics import bootstrap_ci
from ragft.report.cells import Cell


@dataclass(frozen=True)
class PairedDifference:
    """Mean of (other - reference) over the questions both answered, with a 95% CI."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def verdict(self) -> str:
        """ "better" or "worse" when the CI excludes 0, else "no clear difference"."""
        return "better" if self.low > 0 else "worse" if self.high < 0 else "no clear difference"


def paired_difference(
    reference: Mapping[str, float],
    other: Mapping[str, float],
    n_resamples: int = 1000,
    seed: int = 0,
) -> PairedDifference:
    """Paired bootstrap over question ids: each resample draws ids and takes both cells' values.

    Resampling ids jointly is resampling the per-question differences, which keeps the
    pairing (the same hard questions count against both cells).
    """
    ids = sorted(set(reference) & set(other))
    if not ids:
        raise ValueError("paired_difference needs questions present in both cells, got none")
    diffs = np.array([other[i] - reference[i] for i in ids], dtype=float)
    low, high = bootstrap_ci(diffs, n_resamples=n_resamples, seed=seed)
    return PairedDifference(float(diffs.mean()), low, high, len(ids))


def reference_cell(cells: Sequence[Cell], metric: str) -> Cell | None:
    """The `base` cell when the sweep has one, else the first ok cell with predictions."""
    usable = [c for c in cells if c.ok and c.per_question(metric)]
    return next((c for c in usable if c.approach == "base"), usable[0] if usable else None)


def paired_differences(
    cells: Sequence[Cell], metric: str
) -> tuple[Cell | None, list[tuple[Cell, PairedDifference]]]:
    """Each ok cell against the reference cell, on the questions both answered."""
    ref = reference_cell(cells, metric)
    if ref is None:
        return None, []
    ref_values = ref.per_question(metric)
    out = []
    for c in cells:
        if c is ref or not c.ok:
            continue
        values = c.per_question(metric)
        if set(values) & set(ref_values):
            out.append((c, paired_difference(ref_values, values)))
    return ref, out
