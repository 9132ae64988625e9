"""Metrics against the official SQuAD v1.1 / ROUGE-L / nltk BLEU definitions, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from ragft.metrics import (
    ANSWER_METRICS,
    bleu,
    bootstrap_ci,
    by_phrasing,
    contains,
    exact_match,
    f1,
    metric_sort_key,
    mrr,
    normalize_answer,
    recall_at_k,
    rouge_l,
    score_predictions,
)
from ragft.types import Passage, Prediction, QAExample

# --- normalize_answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Velmora!", "velmora"),
        ("The Tavrin compass", "tavrin compass"),
        ("an apple", "apple"),
        ("A cat and THE dog", "cat and dog"),
        ("The theatre", "theatre"),  # "the" inside a word stays
        ("another anthem", "another anthem"),
        ("  Tavrin\n\tcompass \r\n", "tavrin compass"),
        ("rock-n-roll", "rocknroll"),  # punctuation is deleted, not replaced by a space
        ("(a) b", "b"),
        ("A.B. Smith", "ab smith"),  # punctuation goes first, so "a.b." is a word, not "a"
        ("St. Ives, 1873.", "st ives 1873"),
        ("", ""),
        ("the a an", ""),
    ],
)
def test_normalize_answer_follows_squad(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_normalize_answer_keeps_non_ascii_punctuation() -> None:
    # The official script strips string.punctuation only (ASCII).
    assert normalize_answer("“Velmora”") == "“velmora”"


# --- exact_match ------------------------------------------------------------------------


def test_exact_match_ignores_case_punctuation_articles_whitespace() -> None:
    assert exact_match("The  Tavrin\ncompass!", ["tavrin compass"]) == 1.0
    assert exact_match("Velmora!", ["velmora"]) == 1.0


def test_exact_match_mismatch() -> None:
    assert exact_match("Tavrin compasses", ["tavrin compass"]) == 0.0
    assert exact_match("theatre", ["atre"]) == 0.0


def test_exact_match_takes_max_over_golds_and_accepts_tuple() -> None:
    assert exact_match("1873", ("1874", "in 1873", "1873.")) == 1.0
    assert exact_match("1875", ("1874", "in 1873", "1873.")) == 0.0


def test_exact_match_empty_cases() -> None:
    assert exact_match("anything", []) == 0.0
    assert exact_match("", ["velmora"]) == 0.0
    # Both normalize to the empty string: equal, as in the official script.
    assert exact_match("The.", ["a"]) == 1.0


# --- f1 ---------------------------------------------------------------------------------


def test_f1_article_only_difference_is_perfect() -> None:
    assert f1("the cat sat on mat", ["cat sat on the mat"]) == pytest.approx(1.0)


def test_f1_hand_computed_partial() -> None:
    # "cat sat on hat" vs "cat sat on mat": 3 shared of 4 and 4 -> P = R = 3/4.
    assert f1("cat sat on a hat", ["the cat sat on the mat"]) == pytest.approx(3 / 4)


def test_f1_counts_token_multiplicity() -> None:
    # pred {cat:2, dog:1}, gold {cat:1, dog:2, bird:1}: overlap 1 + 1 = 2.
    # P = 2/3, R = 2/4, F1 = 2PR/(P+R) = 4/7.
    assert f1("cat cat dog", ["cat dog dog bird"]) == pytest.approx(4 / 7)


def test_f1_is_order_free() -> None:
    assert f1("six four two", ["two four six"]) == pytest.approx(1.0)


def test_f1_max_over_golds_and_empty_cases() -> None:
    # vs "velmora harbour": 1 shared, P = 1/2, R = 1/2 -> 1/2; vs "velmora": P = 1/2, R = 1 -> 2/3.
    assert f1("Velmora port", ["velmora harbour", "Velmora"]) == pytest.approx(2 / 3)
    assert f1("Velmora", []) == 0.0
    assert f1("", ["velmora"]) == 0.0
    assert f1("nothing shared", ["velmora"]) == 0.0


# --- contains ---------------------------------------------------------------------------


def test_contains_at_token_boundary() -> None:
    assert contains("He was born in 1873.", ["1873"]) == 1.0
    assert contains("He was born in 1873.", ["187"]) == 0.0
    assert contains("1873", ["187"]) == 0.0
    assert contains("theatre", ["atre"]) == 0.0


def test_contains_normalizes_both_sides() -> None:
    assert contains("It is THE Tavrin\tCompass, I think", ["tavrin compass!"]) == 1.0
    assert contains("tavrin and compass", ["tavrin compass"]) == 0.0


def test_contains_max_over_golds_and_empty_cases() -> None:
    assert contains("born in 1873", ["1874", "1873"]) == 1.0
    assert contains("born in 1873", []) == 0.0
    assert contains("born in 1873", ["the", "!"]) == 0.0  # golds normalizing to "" never match
    assert contains("", ["1873"]) == 0.0


# --- rouge_l ----------------------------------------------------------------------------


def test_rouge_l_hand_computed_lcs() -> None:
    # LCS("one two three four five six", "two four six eight") = "two four six" (3).
    # P = 3/6, R = 3/4 -> F = 2PR/(P+R) = 3/5.
    assert rouge_l("one two three four five six", ["two four six eight"]) == pytest.approx(3 / 5)


def test_rouge_l_respects_order_unlike_f1() -> None:
    # LCS of reversed 3 tokens is 1 -> P = R = 1/3.
    assert rouge_l("six four two", ["two four six"]) == pytest.approx(1 / 3)


def test_rouge_l_uses_squad_normalisation() -> None:
    assert rouge_l("The  Tavrin compass!", ["tavrin COMPASS"]) == pytest.approx(1.0)


def test_rouge_l_max_over_golds_and_empty_cases() -> None:
    assert rouge_l("six four two", ["two four six", "six four"]) == pytest.approx(0.8)
    assert rouge_l("six four two", []) == 0.0
    assert rouge_l("", ["six"]) == 0.0
    assert rouge_l("alpha", ["beta"]) == 0.0


# --- bleu -------------------------------------------------------------------------------


def _nltk_bleu(refs: list[list[str]], hyp: list[str]) -> float:
    """nltk's sentence BLEU on tokens written out by hand (not through ragft's normalisation)."""
    return sentence_bleu(refs, hyp, smoothing_function=SmoothingFunction().method1)


def test_bleu_equal_strings_is_one() -> None:
    assert bleu("The Tavrin compass points north.", ["tavrin compass points north"]) == (
        pytest.approx(1.0)
    )


def test_bleu_matches_nltk_directly() -> None:
    hyp, ref = "The cat sat on the mat, today!", "a cat sat on the mat"
    # SQuAD-normalised by hand: lowercase, no punctuation, no articles
    expected = _nltk_bleu([["cat", "sat", "on", "mat"]], ["cat", "sat", "on", "mat", "today"])
    assert 0.0 < expected < 1.0
    assert bleu(hyp, [ref]) == pytest.approx(expected)


def test_bleu_uses_all_references_at_once() -> None:
    hyp = "alpha beta gamma delta"
    refs = ["alpha beta x y", "z w gamma delta"]
    joint = bleu(hyp, refs)
    expected = _nltk_bleu([r.split() for r in refs], hyp.split())  # nothing to normalise
    assert joint == pytest.approx(expected)
    # Clipping against both references credits more n-grams than either one alone.
    assert joint > max(bleu(hyp, [r]) for r in refs)


def test_bleu_empty_cases() -> None:
    assert bleu("", ["velmora"]) == 0.0
    assert bleu("The!", ["velmora"]) == 0.0
    assert bleu("velmora harbour lies north", []) == 0.0


def test_answer_metrics_dispatch() -> None:
    assert ANSWER_METRICS == {
        "exact_match": exact_match,
        "f1": f1,
        "contains": contains,
        "rouge_l": rouge_l,
        "bleu": bleu,
    }


# --- retrieval --------------------------------------------------------------------------


def test_recall_at_k_counts_distinct_gold_docs_with_duplicates() -> None:
    retrieved = ["d1", "d1", "d3", "d2", "d1"]
    assert recall_at_k(retrieved, ["d1", "d2"], k=2) == pytest.approx(0.5)
    assert recall_at_k(retrieved, ["d1", "d2"], k=3) == pytest.approx(0.5)
    assert recall_at_k(retrieved, ["d1", "d2"], k=4) == pytest.approx(1.0)
    assert recall_at_k(retrieved, ["d1", "d2", "d2"], k=4) == pytest.approx(1.0)
    assert recall_at_k(retrieved, ["d9"], k=5) == 0.0
    assert recall_at_k(retrieved, ["d2"], k=100) == pytest.approx(1.0)
    assert recall_at_k(retrieved, ["d1"], k=0) == 0.0


def test_recall_at_k_without_gold_docs_is_zero_not_perfect() -> None:
    # Nothing to find is not a perfect retrieval: an example without gold ids scores 0.0.
    assert recall_at_k(["d1", "d2"], [], k=2) == 0.0
    assert recall_at_k([], (), k=5) == 0.0


def test_mrr() -> None:
    assert mrr(["d3", "d3", "d2", "d1"], ["d1", "d2"]) == pytest.approx(1 / 3)
    assert mrr(["d1", "d2"], ["d1"]) == pytest.approx(1.0)
    assert mrr(["d1", "d2"], ["d9"]) == 0.0
    assert mrr([], ["d1"]) == 0.0


# --- score_predictions ------------------------------------------------------------------


def _passages(*doc_ids: str) -> tuple[Passage, ...]:
    return tuple(
        Passage(chunk_id=f"{d}#{i}", doc_id=d, text="", score=1.0 / i, rank=i)
        for i, d in enumerate(doc_ids, start=1)
    )


def _pred(answer: str, answers: tuple[str, ...], gold_docs=(), passages=()) -> Prediction:
    example = QAExample(id=answer, question="q?", answers=answers, gold_doc_ids=gold_docs)
    return Prediction(example=example, prompt="p", answer=answer, passages=passages)


def test_score_predictions_without_retrieval_omits_retrieval_keys() -> None:
    preds = [
        _pred("Velmora", ("velmora",), gold_docs=("d1",)),  # gold ids but nothing retrieved
        _pred("Oslo harbour", ("Velmora",), passages=_passages("d1")),  # passages, no gold ids
    ]
    aggregate, per_example = score_predictions(preds, ["exact_match", "f1"], k=None)
    assert aggregate == {"exact_match": pytest.approx(0.5), "f1": pytest.approx(0.5)}
    assert per_example == [{"exact_match": 1.0, "f1": 1.0}, {"exact_match": 0.0, "f1": 0.0}]


def test_score_predictions_with_retrieval() -> None:
    preds = [
        _pred("born in 1873", ("1873",), ("d2",), _passages("d1", "d2", "d3")),
        _pred("1873", ("1873",), ("d1", "d4"), _passages("d4", "d1", "d9")),
        _pred("no idea", ("1873",)),  # no retrieval: not in retrieval means
    ]
    aggregate, per_example = score_predictions(preds, ["contains", "exact_match"], k=1)
    assert per_example[0] == {"contains": 1.0, "exact_match": 0.0, "recall_at_k": 0.0, "mrr": 0.5}
    assert per_example[1] == {"contains": 1.0, "exact_match": 1.0, "recall_at_k": 0.5, "mrr": 1.0}
    assert per_example[2] == {"contains": 0.0, "exact_match": 0.0}
    assert aggregate == {
        "contains": pytest.approx(2 / 3),
        "exact_match": pytest.approx(1 / 3),
        "recall_at_k": pytest.approx(0.25),
        "mrr": pytest.approx(0.75),
    }
    assert all(0.0 <= v <= 1.0 for v in aggregate.values())


def test_score_predictions_k_none_uses_all_passages() -> None:
    preds = [_pred("x", ("x",), ("d1", "d4"), _passages("d4", "d2", "d1"))]
    aggregate, _ = score_predictions(preds, ["f1"], k=None)
    assert aggregate["recall_at_k"] == pytest.approx(1.0)
    aggregate, _ = score_predictions(preds, ["f1"], k=2)
    assert aggregate["recall_at_k"] == pytest.approx(0.5)


def test_score_predictions_rejects_unknown_metric_naming_allowed() -> None:
    with pytest.raises(ValueError, match="accuracy") as info:
        score_predictions([_pred("x", ("x",))], ["f1", "accuracy"], k=None)
    for name in ANSWER_METRICS:
        assert name in str(info.value)


def test_score_predictions_rejects_empty_saying_it_needs_a_prediction() -> None:
    with pytest.raises(ValueError, match="^score_predictions needs at least one prediction"):
        score_predictions([], ["f1"], k=None)


# --- bootstrap_ci -----------------------------------------------------------------------


def test_bootstrap_ci_brackets_mean_and_is_deterministic() -> None:
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.25]
    low, high = bootstrap_ci(values, n_resamples=2000, seed=3)
    assert low < float(np.mean(values)) < high
    assert 0.0 <= low and high <= 1.0
    assert bootstrap_ci(values, n_resamples=2000, seed=3) == (low, high)
    assert bootstrap_ci(values, n_resamples=2000, seed=4) != (low, high)


def test_bootstrap_ci_narrows_with_alpha_and_constant_values() -> None:
    values = list(np.linspace(0.0, 1.0, 50))
    low95, high95 = bootstrap_ci(values, alpha=0.05)
    low50, high50 = bootstrap_ci(values, alpha=0.5)
    assert low95 < low50 < high50 < high95
    assert bootstrap_ci([0.7] * 10) == (pytest.approx(0.7), pytest.approx(0.7))


def test_bootstrap_ci_rejects_empty_saying_why() -> None:
    with pytest.raises(ValueError, match="^bootstrap_ci needs at least one value, got none$"):
        bootstrap_ci([])


@pytest.mark.parametrize("n_resamples", [0, -3])
def test_bootstrap_ci_rejects_fewer_than_one_resample_naming_the_value(n_resamples) -> None:
    with pytest.raises(ValueError, match=rf"^n_resamples must be >= 1, got {n_resamples}$"):
        bootstrap_ci([0.5, 1.0], n_resamples=n_resamples)


def test_bootstrap_ci_accepts_a_single_resample() -> None:
    # One resample of [0.2, 0.8] has mean 0.2, 0.5 or 0.8: both ends are that one mean.
    low, high = bootstrap_ci([0.2, 0.8], n_resamples=1)
    assert low == pytest.approx(high)
    assert min(abs(low - m) for m in (0.2, 0.5, 0.8)) < 1e-12


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.05])
def test_bootstrap_ci_rejects_alpha_outside_the_open_unit_interval(alpha) -> None:
    with pytest.raises(ValueError, match=rf"^alpha must be in \(0, 1\), got {alpha}$"):
        bootstrap_ci([0.5, 1.0], alpha=alpha)


def test_bootstrap_ci_puts_alpha_over_two_in_each_tail() -> None:
    # Resampling [0, 1] twice gives means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    # alpha = 0.6 keeps the central 40%: the 30% and 70% quantiles, both at 0.5
    # (any other split of alpha, e.g. alpha/3 in a tail, reaches past 25% into 0 or 1).
    assert bootstrap_ci([0.0, 1.0], n_resamples=20_000, alpha=0.6) == (0.5, 0.5)
    # alpha = 0.4: the 20% and 80% quantiles fall in the outer quarters, at 0 and 1.
    assert bootstrap_ci([0.0, 1.0], n_resamples=20_000, alpha=0.4) == (0.0, 1.0)


def test_bootstrap_ci_defaults_are_1000_resamples_95_percent_seed_0() -> None:
    # The report's intervals call bootstrap_ci(values) and must stay reproducible.
    values = [float(v) for v in np.linspace(0.0, 1.0, 31) ** 2]
    assert bootstrap_ci(values) == bootstrap_ci(values, n_resamples=1000, alpha=0.05, seed=0)


def test_bootstrap_ci_computes_in_double_precision_whatever_the_input_dtype() -> None:
    # float32 scores (e.g. from torch) give the same interval as the same numbers in float64.
    values32 = (np.linspace(0.0, 1.0, 37) ** 2).astype(np.float32)
    as_float64 = [float(v) for v in values32]  # exact: every float32 is a float64
    assert bootstrap_ci(values32) == bootstrap_ci(as_float64)


def test_bootstrap_ci_accepts_integer_scores() -> None:
    assert bootstrap_ci([1, 1, 1, 1]) == (1.0, 1.0)
    low, high = bootstrap_ci([0, 1] * 20, n_resamples=500)
    assert 0.0 < low < 0.5 < high < 1.0


# --- metric_sort_key --------------------------------------------------------------------


def test_metric_sort_key_puts_answer_then_retrieval_metrics_then_others_alphabetically() -> None:
    names = ["zeta", "mrr", "rouge_l", "f1", "alpha", "recall_at_k", "bleu", "contains"]
    names.append("exact_match")
    assert sorted(names, key=metric_sort_key) == [
        "exact_match",
        "f1",
        "contains",
        "rouge_l",
        "bleu",
        "recall_at_k",
        "mrr",
        "alpha",
        "zeta",
    ]


def test_metric_sort_key_sorts_unknown_names_without_error() -> None:
    assert sorted(["train_loss", "generate_seconds"], key=metric_sort_key) == [
        "generate_seconds",
        "train_loss",
    ]


# --- by_phrasing ------------------------------------------------------------------------


def _phrased(phrasing: str) -> Prediction:
    example = QAExample(id=phrasing, question="q?", answers=("a",), phrasing=phrasing)
    return Prediction(example=example, prompt="p", answer="a")


def test_by_phrasing_averages_each_metric_within_each_phrasing_kind() -> None:
    predictions = [_phrased("heldout"), _phrased("seen"), _phrased("heldout"), _phrased("heldout")]
    per_example = [
        {"exact_match": 1.0, "f1": 1.0},
        {"exact_match": 0.0, "f1": 0.5},
        {"exact_match": 0.0, "f1": 0.25},
        {"exact_match": 1.0, "f1": 0.75},
    ]
    assert by_phrasing(predictions, per_example) == {
        "heldout": {"exact_match": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)},
        "seen": {"exact_match": 0.0, "f1": 0.5},
    }


def test_by_phrasing_leaves_out_examples_without_a_phrasing() -> None:
    predictions = [_phrased(""), _phrased("heldout"), _phrased("")]
    per_example = [{"f1": 0.0}, {"f1": 0.4}, {"f1": 0.0}]
    assert by_phrasing(predictions, per_example) == {"heldout": {"f1": pytest.approx(0.4)}}


def test_by_phrasing_is_empty_for_user_data_without_phrasings() -> None:
    assert by_phrasing([_phrased(""), _phrased("")], [{"f1": 1.0}, {"f1": 0.0}]) == {}


def test_by_phrasing_rejects_scores_that_do_not_line_up_with_predictions() -> None:
    with pytest.raises(ValueError):
        by_phrasing([_phrased("seen"), _phrased("seen")], [{"f1": 1.0}])
    with pytest.raises(ValueError):
        by_phrasing([_phrased("seen")], [{"f1": 1.0}, {"f1": 0.0}])


def test_f1_counts_repeated_tokens_as_a_multiset():
    # SQuAD's F1 counts the overlap with multiplicity (Counter &), not as a set intersection.
    # "the" is an article and dropped: prediction "cat cat cat" vs gold "cat cat".
    # overlap 2 -> precision 2/3, recall 2/2 -> F1 = 2 * (2/3) / (2/3 + 1) = 0.8
    # (a set intersection gives overlap 1 -> precision 1/3, recall 1/2 -> F1 0.4)
    assert f1("the cat cat cat", ["cat cat"]) == pytest.approx(0.8)
    # "x x y" vs "x x z": overlap 2 (x twice) -> precision 2/3, recall 2/3 -> F1 2/3
    # (sets: overlap 1 -> 1/3)
    assert f1("x x y", ["x x z"]) == pytest.approx(2 / 3)
