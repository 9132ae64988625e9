"""Known vs unknown questions, and the agreement statistics (Spearman's rho, Cohen's kappa)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragft.report.cells import Cell


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
    """Every other ok cell split by what an ok `base` cell knew: the base cell of the same
    seed where the sweep has one (seeds change the data), else the sweep's first.

    Returns the first base cell (None without one) and the splits.
    """
    bases = [c for c in cells if c.ok and c.approach == "base" and c.per_question(metric, True)]
    if not bases:
        return None, []
    by_seed: dict[str, Cell] = {}
    for b in bases:
        by_seed.setdefault(repr(b.axes.get("seed")), b)
    out = []
    for c in cells:
        base = by_seed.get(repr(c.axes.get("seed")), bases[0])
        if not c.ok or c is base:
            continue
        known = base.per_question(metric, answerable_only=True)
        values = c.per_question(metric, answerable_only=True)
        if set(values) & set(known):
            out.append((c, known_unknown(known, values)))
    return bases[0], out


def base_seeds(cells: Sequence[Cell]) -> int:
    """How many seeds the sweep's ok base cells ran under."""
    return len({repr(c.axes.get("seed")) for c in cells if c.ok and c.approach == "base"})


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
