"""Answer and retrieval metrics: pure functions over strings and doc ids, never a model.

Answer metrics all compare after the official SQuAD v1.1 normalisation (`normalize_answer`)
and take the best score over the gold answers, except BLEU, which takes every gold answer
as a reference at once.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ragft.types import Prediction

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lowercase, drop punctuation, drop articles, collapse spaces."""

    def remove_articles(text: str) -> str:
        return _ARTICLES.sub(" ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        return "".join(ch for ch in text if ch not in _PUNCTUATION)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split()


def _best(metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]) -> float:
    return max((metric(prediction, gold) for gold in golds), default=0.0)


def _exact_match_one(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def _f1_one(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _contains_one(prediction: str, gold: str) -> float:
    norm_gold = normalize_answer(gold)
    if not norm_gold:
        return 0.0
    return float(f" {norm_gold} " in f" {normalize_answer(prediction)} ")


def _lcs_length(a: list[str], b: list[str]) -> int:
    # One-row dynamic programme: prev[j] = LCS of a[:i-1] and b[:j].
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _rouge_l_one(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    lcs = _lcs_length(pred_tokens, gold_tokens)
    if lcs == 0:
        return 0.0
    precision = lcs / len(pred_tokens)
    recall = lcs / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalized prediction equals some normalized gold answer, else 0.0."""
    return _best(_exact_match_one, prediction, golds)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Official SQuAD v1.1 token F1 (bag-of-tokens overlap), best over the gold answers."""
    return _best(_f1_one, prediction, golds)


def contains(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if some non-empty normalized gold occurs in the normalized prediction as whole tokens."""
    return _best(_contains_one, prediction, golds)


def rouge_l(prediction: str, golds: Sequence[str]) -> float:
    """ROUGE-L F-measure (beta=1) from the longest common token subsequence, best over golds.

    Tokens are the SQuAD normalisation (`normalize_answer`) split on whitespace.
    """
    return _best(_rouge_l_one, prediction, golds)


def bleu(prediction: str, golds: Sequence[str]) -> float:
    """Sentence BLEU (4-gram, smoothing method1) with all gold answers as references at once.

    Tokens are the SQuAD normalisation split on whitespace; 0.0 for an empty prediction or
    when no gold answer has tokens. Answers shorter than 4 tokens score below 1.0 even when
    exact (method1 smooths, rather than skips, the empty higher-order n-gram counts).
    """
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hypothesis = _tokens(prediction)
    references = [tokens for tokens in (_tokens(g) for g in golds) if tokens]
    if not hypothesis or not references:
        return 0.0
    return float(
        sentence_bleu(references, hypothesis, smoothing_function=SmoothingFunction().method1)
    )


ANSWER_METRICS: dict[str, Callable[[str, Sequence[str]], float]] = {
    "exact_match": exact_match,
    "f1": f1,
    "contains": contains,
    "rouge_l": rouge_l,
    "bleu": bleu,
}


RETRIEVAL_METRICS = ("recall_at_k", "mrr")
# Scores computed beside the string metrics (ragft/evaluation.py, ragft/abstention.py).
EXTRA_SCORES = (
    "semantic", "judge", "faithfulness",
    "accuracy", "abstain_rate", "hallucination_rate", "crag",
    "answerable_accuracy", "answerable_abstain_rate", "answerable_hallucination_rate",
    "unanswerable_abstain_rate", "unanswerable_hallucination_rate",
    "control", "control_base", "control_drop",
)  # fmt: skip
# The order scores appear in everywhere (printed tables, report tables and plots).
METRIC_ORDER = (*ANSWER_METRICS, *RETRIEVAL_METRICS, *EXTRA_SCORES)


def metric_sort_key(name: str) -> tuple[int, str]:
    """Sort key for score names: METRIC_ORDER first, any other name after, alphabetically."""
    return (METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), name)


def recall_at_k(retrieved_doc_ids: Sequence[str], gold_doc_ids: Sequence[str], k: int) -> float:
    """Share of the distinct gold doc ids found among the first k retrieved entries."""
    gold = set(gold_doc_ids)
    if not gold:
        return 0.0
    found = gold.intersection(retrieved_doc_ids[:k])
    return len(found) / len(gold)


def mrr(retrieved_doc_ids: Sequence[str], gold_doc_ids: Sequence[str]) -> float:
    """Reciprocal of the 1-based position of the first gold doc id retrieved; 0.0 if none."""
    gold = set(gold_doc_ids)
    for position, doc_id in enumerate(retrieved_doc_ids, start=1):
        if doc_id in gold:
            return 1.0 / position
    return 0.0


def score_predictions(
    predictions: Sequence[Prediction], answer_metrics: Sequence[str], k: int | None
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Score each prediction and average over them.

    Returns (aggregate, per_example). Each per-example dict has the named answer metrics (not
    for an unanswerable question, which has no gold answer to compare with) and,
    when the example has gold doc ids and passages were retrieved, `recall_at_k` (at `k`, or
    at the number of passages when `k` is None) and `mrr`. Retrieval means are over the
    examples that have them and are left out when none does.
    """
    unknown = [name for name in answer_metrics if name not in ANSWER_METRICS]
    if unknown:
        raise ValueError(f"unknown answer metric(s) {unknown}; allowed: {sorted(ANSWER_METRICS)}")
    if not predictions:
        raise ValueError("score_predictions needs at least one prediction, got none")

    per_example: list[dict[str, float]] = []
    for prediction in predictions:
        golds = prediction.example.answers
        scores = (
            {name: ANSWER_METRICS[name](prediction.answer, golds) for name in answer_metrics}
            if golds
            else {}
        )
        if prediction.example.gold_doc_ids and prediction.passages:
            retrieved = [p.doc_id for p in prediction.passages]
            cutoff = len(retrieved) if k is None else k
            gold_ids = prediction.example.gold_doc_ids
            scores["recall_at_k"] = recall_at_k(retrieved, gold_ids, cutoff)
            scores["mrr"] = mrr(retrieved, gold_ids)
        per_example.append(scores)

    aggregate: dict[str, float] = {}
    for name in [*answer_metrics, "recall_at_k", "mrr"]:
        values = [scores[name] for scores in per_example if name in scores]
        if values:
            aggregate[name] = float(np.mean(values))
    return aggregate, per_example


# Words that carry no claim: an answer's other words are the ones a passage must support.
_FUNCTION_WORDS = frozenset(
    "of in on at to for by with from as and or but is are was were be been it its this that "
    "these those he she they his her their there which who whom what when where how".split()
)


def faithfulness(answer: str, passages: Sequence[str]) -> float | None:
    """Share of the answer's content tokens that occur in the passages it was given.

    Tokens are the SQuAD normalisation split on whitespace (so articles and punctuation are
    gone), less the function words above; a token is supported when some passage has it as a
    token. None (not scored) for an answer with no content token or no passage.
    """
    claims = [t for t in _tokens(answer) if t not in _FUNCTION_WORDS]
    if not claims or not passages:
        return None
    seen = {t for p in passages for t in _tokens(p)}
    return sum(t in seen for t in claims) / len(claims)


def by_phrasing(
    predictions: Sequence[Prediction], per_example: Sequence[dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Mean scores per eval phrasing kind (heldout / seen), when the data says which."""
    groups: dict[str, list[dict[str, float]]] = {}
    for p, m in zip(predictions, per_example, strict=True):
        if p.example.phrasing:
            groups.setdefault(p.example.phrasing, []).append(m)
    out: dict[str, dict[str, float]] = {}
    for kind, ms in groups.items():
        names = sorted({k for m in ms for k in m}, key=metric_sort_key)
        out[kind] = {k: float(np.mean([m[k] for m in ms if k in m])) for k in names}
    return out


def bootstrap_ci(
    values: Sequence[float], n_resamples: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) confidence interval of the mean of `values`."""
    if len(values) == 0:
        raise ValueError("bootstrap_ci needs at least one value, got none")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    samples = rng.choice(data, size=(n_resamples, data.size), replace=True)
    means = samples.mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def nested_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of the mean over groups (seeds) of each group's mean, resampling both:
    each resample draws the groups with replacement, and within each its values.

    One group: `bootstrap_ci` of its values (the plain bootstrap).
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not arrays or any(a.size == 0 for a in arrays):
        raise ValueError("nested_bootstrap_ci needs non-empty groups")
    if len(arrays) == 1:
        return bootstrap_ci(arrays[0], n_resamples=n_resamples, alpha=alpha, seed=seed)
    rng = np.random.default_rng(seed)
    # each group's mean under each resample of its values: (groups, resamples)
    means = np.stack([a[rng.integers(0, a.size, (n_resamples, a.size))].mean(1) for a in arrays])
    drawn = rng.integers(0, len(arrays), (n_resamples, len(arrays)))  # groups, with replacement
    stats = means[drawn, np.arange(n_resamples)[:, None]].mean(axis=1)
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
