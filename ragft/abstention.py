"""Abstention and hallucination: CRAG's scoring of answers that may say "I don't know".

Pure functions over answers, gold answers and the abstention phrases (`prompt.abstain_phrases`).
Each question's outcome, as in CRAG (Yang et al., 2024: correct +1, missing 0, hallucinated -1):

- an empty answer is *missing*, as in CRAG;
- an answerable question (it has gold answers) is *correct* when the answer contains a gold
  answer (`metrics.contains`) and does not abstain, *missing* when it abstains, and
  *hallucinated* otherwise;
- an unanswerable question (`"answers": []`) is *correct* when the answer abstains (the
  right reply to a question the documents cannot answer) and *hallucinated* otherwise.

`accuracy`, `abstain_rate` and `hallucination_rate` are the shares of the three outcomes'
flags over all questions; `crag` = accuracy - hallucination_rate (in [-1, 1]); the same split
into answerable (`answerable_*`) and unanswerable (`unanswerable_*`) questions.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragft.metrics import contains, normalize_answer

SCORES = (
    "accuracy", "abstain_rate", "hallucination_rate", "crag",
    "answerable_accuracy", "answerable_abstain_rate", "answerable_hallucination_rate",
    "unanswerable_abstain_rate", "unanswerable_hallucination_rate",
)  # fmt: skip


def abstained(answer: str, phrases: Sequence[str]) -> bool:
    """Whether `answer` says it does not know: it holds one of `phrases` as whole words,
    both SQuAD-normalised (so "I don't know." matches the phrase "I don't know")."""
    norm = f" {normalize_answer(answer)} "
    return any(p and f" {p} " in norm for p in (normalize_answer(x) for x in phrases))


def outcome(answer: str, golds: Sequence[str], phrases: Sequence[str]) -> str:
    """ "correct", "missing" or "hallucinated" (the module docstring has the rules)."""
    if not normalize_answer(answer):
        return "missing"
    if abstained(answer, phrases):
        return "missing" if golds else "correct"
    if not golds:
        return "hallucinated"
    return "correct" if contains(answer, golds) == 1.0 else "hallucinated"


def _rates(outcomes: Sequence[str], abstains: Sequence[bool]) -> tuple[float, float, float]:
    n = len(outcomes)
    return (
        sum(o == "correct" for o in outcomes) / n,
        sum(abstains) / n,
        sum(o == "hallucinated" for o in outcomes) / n,
    )


def scores(
    answers: Sequence[str], golds: Sequence[Sequence[str]], phrases: Sequence[str]
) -> dict[str, float]:
    """The abstention scores (`SCORES`) of answers to questions with these gold answers.

    The `answerable_*` / `unanswerable_*` scores are left out when there is no question of
    that kind.
    """
    if len(answers) != len(golds):
        raise ValueError(f"{len(answers)} answers for {len(golds)} questions")
    if not answers:
        raise ValueError("abstention scores need at least one answer, got none")
    outs = [outcome(a, g, phrases) for a, g in zip(answers, golds, strict=True)]
    abst = [abstained(a, phrases) for a in answers]
    acc, rate, hall = _rates(outs, abst)
    out = {"accuracy": acc, "abstain_rate": rate, "hallucination_rate": hall, "crag": acc - hall}
    for kind, keep in (("answerable", True), ("unanswerable", False)):
        idx = [i for i, g in enumerate(golds) if bool(g) == keep]
        if not idx:
            continue
        acc, rate, hall = _rates([outs[i] for i in idx], [abst[i] for i in idx])
        if keep:
            out["answerable_accuracy"] = acc
        out[f"{kind}_abstain_rate"] = rate
        out[f"{kind}_hallucination_rate"] = hall
    return out
