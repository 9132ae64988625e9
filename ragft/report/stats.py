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


@dataclass(frozen=True)
class KnownSplit:
    """A cell's mean score on the questions base knew (base scored 1) and on the others."""

    known_n: int
    known: float | None  # None: no such question
    unknown_n: int
    unknown: float | None


def known_unknown(base: Mapping[str, float], other: Mapping[str, float]) -> KnownSplit:
    """`other`'s mean split by whether `base` answered the question right (value == 1).

    Only question ids in both count; pass answerable questions only (an unanswerable one
    has no right answer to know).
    """
    ids = sorted(set(base) & set(other))
    known = [other[i] for i in ids if base[i] == 1]
    unknown = [other[i] for i in ids if base[i] != 1]
    return KnownSplit(
        len(known),
        float(np.mean(known)) if known else None,
        len(unknown),
        float(np.mean(unknown)) if unknown else None,
    )


def known_unknown_split(
    cells: Sequence[Cell], metric: str
) -> tuple[Cell | None, list[tuple[Cell, KnownSplit]]]:
    """Every other ok cell split by what the sweep's (first) ok `base` cell knew."""
    base = next(
        (c for c in cells if c.ok and c.approach == "base" and c.per_question(metric, True)),
        None,
    )
    if base is None:
        return None, []
    known = base.per_question(metric, answerable_only=True)
    out = []
    for c in cells:
        values = c.per_question(metric, answerable_only=True) if c.ok and c is not base else {}
        if set(values) & set(known):
            out.append((c, known_unknown(known, values)))
    return base, out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """scipy's Spearman rank correlation; None where it is undefined (under 2 pairs, or
    either side a constant)."""
    if len(xs) != len(ys):
        raise ValueError(f"spearman needs pairs, got {len(xs)} and {len(ys)} values")
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(xs, ys).statistic)


def kappa(a: Sequence[int], b: Sequence[int], scale: int, weights: str | None) -> float | None:
    """sklearn's Cohen's kappa of two raters on ratings 1..`scale`; None where undefined.

    The labels are always 1..scale, so quadratic weights penalise a disagreement by its
    distance on the scale, not by the distance between the ratings that happen to occur.
    """
    if len(a) != len(b):
        raise ValueError(f"kappa needs pairs, got {len(a)} and {len(b)} ratings")
    if not a:
        return None
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():  # undefined (both raters one and the same rating): None
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(a, b, labels=list(range(1, scale + 1)), weights=weights)
    return None if np.isnan(value) else float(value)
