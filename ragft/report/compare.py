"""Rows compared on the same questions: paired differences, their tests, Holm's correction.

A comparison pairs two rows on the units both answered: (seed, question) pairs, so a row is
only ever compared with the same seed of the other row (same data, same initialisation).

- The difference is the mean over seeds of each seed's mean per-question difference, with a
  nested bootstrap CI: each resample draws the seeds with replacement, then, within each
  drawn seed, its questions with replacement. That interval holds both the question and the
  seed variation; with one seed it is the plain paired bootstrap over questions.
- The test: for a 0/1 metric (exact_match, contains, ...), the exact McNemar test, a
  two-sided binomial test on the discordant pairs (scipy's `binomtest`); for any other
  metric a paired permutation test of the mean difference (scipy's `permutation_test`,
  signs flipped within pairs). Units from several seeds count as separate pairs.
- Holm's step-down correction across every comparison a report makes.

Which pairs: the rows that differ in exactly one axis (the approaches, when only the
approach varies; a LoRA rank against the next), plus whatever pair the caller adds (the
decision's best and runner-up).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ragft.metrics import nested_bootstrap_ci
from ragft.report.rows import Row, applicable

ALPHA = 0.05
N_PERMUTATIONS = 9999
MCNEMAR = "McNemar (exact)"
PERMUTATION = "permutation"


@dataclass(frozen=True)
class Comparison:
    """`a` minus `b` on `metric` (fractions), over `n` paired (seed, question) units."""

    a: Row
    b: Row
    axis: str | None  # the one axis they differ in; None: several (the decision's pair)
    mean: float
    low: float
    high: float
    n: int
    test: str  # MCNEMAR or PERMUTATION
    p: float
    p_holm: float = math.nan  # set by `comparisons`
    a_only: int | None = None  # McNemar's discordant pairs: a right and b wrong
    b_only: int | None = None

    @property
    def significant(self) -> bool:
        """Holm-corrected p under ALPHA (the raw p when no correction was made)."""
        p = self.p if math.isnan(self.p_holm) else self.p_holm
        return p < ALPHA


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> tuple[float, int, int]:
    """Two-sided exact McNemar p for paired 0/1 outcomes, and the discordant counts
    (a right, b wrong) and (a wrong, b right). No discordant pair: p = 1."""
    from scipy.stats import binomtest

    x, y = np.asarray(a) == 1, np.asarray(b) == 1
    a_only, b_only = int(np.sum(x & ~y)), int(np.sum(~x & y))
    if a_only + b_only == 0:
        return 1.0, 0, 0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue), a_only, b_only


def permutation_p(
    a: Sequence[float], b: Sequence[float], n_resamples: int = N_PERMUTATIONS, seed: int = 0
) -> float:
    """Two-sided paired permutation p of mean(a - b): scipy flips each pair's sign (exact
    when 2**n is within n_resamples). All differences zero: p = 1."""
    from scipy.stats import permutation_test

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.allclose(x, y):
        return 1.0
    result = permutation_test(
        (x, y),
        lambda u, v, axis: np.mean(u - v, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m is
    multiplied by (m - i), made non-decreasing along that order, and capped at 1."""
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * float(p_values[j])))
        adjusted[j] = running
    return adjusted


def binary(values: Iterable[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def compare(a: Row, b: Row, metric: str, axis: str | None = None) -> Comparison | None:
    """`a` minus `b` on their shared (seed, question) units; None when they share none."""
    va, vb = a.per_question(metric), b.per_question(metric)
    units = sorted(set(va) & set(vb))
    if not units:
        return None
    by_seed: dict[str, list[float]] = {}
    for u in units:
        by_seed.setdefault(u[0], []).append(va[u] - vb[u])
    groups = list(by_seed.values())
    mean = float(np.mean([np.mean(g) for g in groups]))
    low, high = nested_bootstrap_ci(groups)
    xa, xb = [va[u] for u in units], [vb[u] for u in units]
    if binary(xa) and binary(xb):
        p, a_only, b_only = mcnemar_exact(xa, xb)
        return Comparison(a, b, axis, mean, low, high, len(units), MCNEMAR, p, math.nan,
                          a_only, b_only)  # fmt: skip
    return Comparison(a, b, axis, mean, low, high, len(units), PERMUTATION, permutation_p(xa, xb))


def one_axis_pairs(rows: Sequence[Row]) -> list[tuple[Row, Row, str]]:
    """Pairs of ok rows that differ in exactly one axis where both have a value (an axis
    that does not apply to one of them does not count), with that axis."""
    out = []
    for r, s in itertools.combinations([r for r in rows if r.ok], 2):
        differ = [
            k for k in r.axes
            if applicable(r.axes[k]) and applicable(s.axes.get(k))
            and repr(r.axes[k]) != repr(s.axes[k])
        ]  # fmt: skip
        if r.approach != s.approach and "approach" not in differ:
            differ.append("approach")
        if len(differ) == 1:
            out.append((r, s, differ[0]))
    return out


def comparisons(
    rows: Sequence[Row], metric: str, also: Sequence[tuple[Row, Row]] = ()
) -> list[Comparison]:
    """Every one-axis pair (and the pairs in `also`), better row first, Holm-corrected
    together; sorted by corrected p, then by the size of the difference."""
    pairs: dict[tuple[int, int], tuple[Row, Row, str | None]] = {}
    for r, s, axis in one_axis_pairs(rows):
        pairs[(id(r), id(s))] = (r, s, axis)
    for r, s in also:
        if (id(r), id(s)) not in pairs and (id(s), id(r)) not in pairs:
            pairs[(id(r), id(s))] = (r, s, None)
    found = []
    for r, s, axis in pairs.values():
        ra, sa = r.score(metric), s.score(metric)
        if ra is None or sa is None:
            continue
        a, b = (r, s) if ra >= sa else (s, r)
        c = compare(a, b, metric, axis)
        if c is not None:
            found.append(c)
    adjusted = holm([c.p for c in found])
    out = [replace(c, p_holm=p) for c, p in zip(found, adjusted, strict=True)]
    return sorted(out, key=lambda c: (c.p_holm, -abs(c.mean), c.a.label, c.b.label))


def between(found: Sequence[Comparison], a: Row, b: Row) -> Comparison | None:
    """The comparison of `a` and `b` (either way round) among `found`."""
    return next((c for c in found if {id(c.a), id(c.b)} == {id(a), id(b)}), None)
