"""The sweep's answer in plain words: the best row, its margin, what it costs, the trade-offs.

    decision(rows, found, metric)  # -> Decision: .best, .runner_up, .versus, .text

The best row is the one with the highest mean `metric`; the runner-up the next. The margin
is their comparison (`compare`: paired CI and Holm-corrected p over all the report's
comparisons); the costs are the two rows' means of the COSTS figures; the warnings say when
the best hallucinates more (its hallucination rate, with abstention scoring) or forgets more
(its control score, with `metrics.control=true`) than the runner-up.

`pareto_front` marks the rows no other row beats on both score and a cost.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragft.approaches import APPROACHES
from ragft.report.compare import Comparison, between
from ragft.report.rows import Row, seeds_vary, with_score

# Cost figures a decision weighs, by their report names, with how to say them.
COSTS = {
    "train_seconds": ("training", "s"),
    "seconds_per_question": ("answer latency", "s per question"),
    "peak_memory_mb": ("peak memory", "MB"),
    "adapter_mb": ("adapter", "MB"),
    "prompt_tokens_per_question": ("context", "prompt tokens per question"),
}
# Costs that are 0 for an approach that trains nothing.
UNTRAINED_ZERO = ("train_seconds", "adapter_mb")
# A warning when the best is worse than the runner-up on these by at least this much.
HALLUCINATION = "hallucination_rate"
CONTROL = "control"
WORSE_BY = 0.01


@dataclass(frozen=True)
class Decision:
    metric: str
    best: Row
    runner_up: Row | None
    versus: Comparison | None  # best minus runner-up (None: no shared questions)
    text: str  # the decision in one to three sentences (Markdown)

    def summary(self) -> dict[str, Any]:
        """The figures for the W&B summary run: best, runner-up, the margin with its CI
        (fractions) and Holm-corrected p."""
        out: dict[str, Any] = {"best": self.best.label, "best_score": self.best.score(self.metric)}
        if self.runner_up is not None:
            out.update(runner_up=self.runner_up.label,
                       runner_up_score=self.runner_up.score(self.metric))  # fmt: skip
        c = self.versus
        if c is not None:
            sign = 1 if c.a is self.best else -1
            low, high = sorted((sign * c.low, sign * c.high))
            out.update(margin=sign * c.mean, margin_low=low, margin_high=high,
                       margin_p_holm=c.p_holm, margin_significant=c.significant)  # fmt: skip
        return out

    def html(self) -> str:
        """The text with its **bold** and `code` as HTML, the rest escaped."""
        out = html.escape(self.text)
        out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def number(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


def cost_of(row: Row, key: str, zero: Sequence[str] = UNTRAINED_ZERO) -> float | None:
    """A row's mean cost figure; 0 for the `zero` keys (training seconds, adapter MB) of an
    approach that does not train."""
    value = row.cost(key)
    if value is None and key in zero and row.approach in APPROACHES:
        return None if APPROACHES[row.approach].trains else 0.0
    return value


def cost_phrase(best: Row, other: Row) -> str:
    """ "1.7x the training (138 vs 79 s); ..." for the COSTS both rows have."""
    parts = []
    for key, (what, unit) in COSTS.items():
        b, o = cost_of(best, key), cost_of(other, key)
        if b is None or o is None or (b == 0 and o == 0):
            continue
        if o > 0 and b > 0:
            ratio = b / o
            how = "the same" if abs(ratio - 1) < 0.05 else f"{ratio:.2g}x the"
            parts.append(f"{how} {what} ({number(b)} vs {number(o)} {unit})")
        elif o == 0:
            parts.append(f"{what} of {number(b)} {unit} where it needs none")
        else:
            parts.append(f"no {what} where it needs {number(o)} {unit}")
    return "; ".join(parts)


def warnings(best: Row, other: Row) -> list[str]:
    """What the best does worse than the runner-up besides the metric: hallucination, forgetting."""
    out = []
    bh, oh = best.score(HALLUCINATION), other.score(HALLUCINATION)
    if bh is not None and oh is not None and bh - oh >= WORSE_BY:
        out.append(
            f"it hallucinates more: {pct(bh)} of its answers are wrong rather than abstentions, "
            f"against {pct(oh)}"
        )
    bc, oc = best.score(CONTROL), other.score(CONTROL)
    if bc is not None and oc is not None and oc - bc >= WORSE_BY:
        out.append(
            f"it forgets more: {pct(bc)} on the control questions (general knowledge), "
            f"against {pct(oc)}"
        )
    return out


def ranked(rows: Sequence[Row], metric: str) -> list[Row]:
    """The rows with a `metric` score, best first (the first of equals in row order)."""
    return sorted(with_score(rows, metric), key=lambda r: -(r.score(metric) or 0.0))


def decision(rows: Sequence[Row], found: Sequence[Comparison], metric: str) -> Decision | None:
    """The decision, or None when no row has a `metric` score."""
    ranked_rows = ranked(rows, metric)
    if not ranked_rows:
        return None
    best = ranked_rows[0]
    score = f"{pct(best.score(metric) or 0.0)}"
    if seeds_vary(rows) and best.sd(metric) is not None:
        score += f" ± {100 * (best.sd(metric) or 0.0):.1f} over {len(best.per_seed(metric))} seeds"
    if len(ranked_rows) == 1:
        text = f"**{best.label}** is the only row with a `{metric}` score ({score})."
        return Decision(metric, best, None, None, text)
    other = ranked_rows[1]
    versus = between(found, best, other)
    first = f"**{best.label}** is best on `{metric}` ({score})"
    if versus is None:
        first += f"; the runner-up **{other.label}** shares no questions with it to compare."
        return Decision(metric, best, other, None, first)
    sign = 1 if versus.a is best else -1
    mean, low, high = (sign * x for x in (versus.mean, versus.low, versus.high))
    low, high = min(low, high), max(low, high)
    verdict = (
        "a significant margin" if versus.significant
        else "not a significant margin: the two are not told apart"
    )  # fmt: skip
    first += (
        f", {100 * mean:+.1f} points over the runner-up **{other.label}** "
        f"({pct(other.score(metric) or 0.0)}; 95% CI [{100 * low:+.1f}, {100 * high:+.1f}], "
        f"Holm-corrected p = {versus.p_holm:.3g}, {versus.n} paired answers): {verdict}."
    )
    sentences = [first]
    costs = cost_phrase(best, other)
    if costs:
        sentences.append(f"Against {other.label} it costs {costs}.")
    for w in warnings(best, other):
        sentences.append(f"But {w}.")
    return Decision(metric, best, other, versus, " ".join(sentences))


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For (score, cost) points: True where no other point has a score >= and a cost <=,
    one of them strictly (higher score is better, lower cost is better)."""
    out = []
    for i, (s, c) in enumerate(points):
        beaten = any(
            s2 >= s and c2 <= c and (s2 > s or c2 < c)
            for j, (s2, c2) in enumerate(points)
            if j != i
        )
        out.append(not beaten)
    return out
