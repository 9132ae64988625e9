"""The generated set's filters and splits: each drop counted under its reason, and splits
that hold out a different question per fact with no leak."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ragft.datagen import filters, splits
from ragft.datagen.prompts import Record

SOURCE = "Lake Baikal in Siberia is the deepest lake, at 1642 metres."


def rec(q: str, a: str, fact: str = "", doc: str = "d", extractive: bool = False) -> Record:
    return Record(instruction=q, input="", output=a, type="t", doc_id=doc, chunk_id=f"{doc}#0",
                  extractive=extractive, fact=fact or f"{doc}:{a.lower()}")  # fmt: skip


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (rec("How deep is Lake Baikal?", "1642 metres"), None),
        (rec("  ", "1642"), "empty"),
        (rec("How deep?", "the"), "empty"),  # nothing left once normalised
        (rec("How deep?", " ".join(["deep"] * 6)), "answer_too_long"),
        (rec("Is Baikal in Siberia?", "Siberia"), "question_contains_answer"),
        (rec("Where is it?", "siberia."), None),
        (rec("Which lake?", "Lake Tahoe", extractive=True), "not_grounded"),
        (rec("Which lake?", "Lake Baikal", extractive=True), None),
        (rec("Which lake?", "Baikal lake deep Siberia Tahoe"), "not_grounded"),  # 3/5 < 0.8
        (rec("Which lake?", "Baikal lake deepest Siberia Tahoe"), None),  # 4/5 >= 0.8
    ],
)
def test_each_filter_and_its_reason(record, reason):
    assert filters.drop_reason(record, SOURCE, max_answer_words=5, grounding=0.8) == reason


def test_the_question_containing_the_answer_is_checked_on_whole_words():
    # "lake" is inside "lakes" but not a word of it
    assert filters.drop_reason(rec("Name the lakes.", "lake"), "a lake", 5, 0.0) is None


def test_apply_counts_every_drop_and_removes_exact_duplicates():
    records = [
        rec("How deep is Lake Baikal?", "1642 metres"),
        rec("How  deep is lake Baikal", "1642 metres."),  # same once normalised
        rec("Which lake?", "Lake Tahoe", extractive=True),
        rec("Is Baikal in Siberia?", "Siberia"),
        rec("Where is Lake Baikal?", "Siberia"),
    ]
    kept, dropped = filters.apply(records, {"d#0": SOURCE}, 5, 0.5)
    assert [r.instruction for r in kept] == ["How deep is Lake Baikal?", "Where is Lake Baikal?"]
    assert dropped == Counter(duplicate=1, not_grounded=1, question_contains_answer=1)


def test_near_duplicates_compare_with_kept_rows_only():
    e = np.array([[1, 0], [0.99, 0.141], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert filters.near_duplicates(e, 0.95) == [1]  # row 3 is close to 2 (0.8) but < 0.95
    assert filters.near_duplicates(e, 0.79) == [1, 3]  # 3 vs kept 2: 0.8
    assert filters.near_duplicates(e[:1], 0.5) == []


def test_by_question_holds_out_one_question_per_fact_asked_twice():
    # fact f1 is asked once, f2 twice, f3 three times
    records = [rec(f"q{i}{j}", f"a{i}", fact=f"f{i}") for i in (1, 2, 3) for j in range(i)]
    train, held = splits.by_question(records, seed=0)
    assert sorted(r.fact for r in held) == ["f2", "f3"]  # a fact asked once only trains
    assert Counter(r.fact for r in train) == Counter(f1=1, f2=1, f3=2)
    assert not {r.instruction for r in held} & {r.instruction for r in train}
    assert splits.by_question(records, 0) == splits.by_question(records, 0)  # seeded


def test_by_question_varies_the_held_out_phrasing_with_the_seed():
    records = [rec(f"q{j}", "a", fact="f") for j in range(5)]
    picks = {splits.by_question(records, seed)[1][0].instruction for seed in range(20)}
    assert len(picks) > 2


def test_by_document_keeps_eval_documents_out_of_training():
    records = [rec(f"q{d}{j}", f"a{d}{j % 2}", doc=f"doc{d}") for d in range(5) for j in range(4)]
    train, held = splits.by_document(records, [f"doc{d}" for d in range(5)], 0.4, seed=1)
    eval_docs = {r.doc_id for r in held}
    assert len(eval_docs) == 2 and not eval_docs & {r.doc_id for r in train}
    assert len(held) == 2 * 2  # one question per fact: two facts per document
    assert len(train) == 3 * 4


def test_by_document_never_holds_out_every_document():
    records = [rec("q", "a", doc="only"), rec("q2", "b", doc="other")]
    train, held = splits.by_document(records, ["only", "other"], 0.99, seed=0)
    assert train and held


def fake_embed(table: dict[str, list[float]]):
    def embed(texts):
        rows = np.array([table[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    return embed


def test_leak_check_swaps_in_a_sibling_that_is_not_close():
    table = {"eval": [1, 0, 0], "train-close": [0.99, 0.14, 0], "train-far": [0, 0, 1]}
    train = [rec("train-close", "a", fact="f"), rec("train-far", "a", fact="f")]
    held = [rec("eval", "a", fact="f")]
    new_train, new_held, counts = splits.leak_check(train, held, fake_embed(table), 0.9)
    assert [r.instruction for r in new_held] == ["train-far"]
    assert sorted(r.instruction for r in new_train) == ["eval", "train-close"]
    assert counts == Counter(leak_moved=1)


def test_leak_check_drops_an_eval_question_with_no_safe_sibling():
    table = {"eval": [1, 0], "train": [0.99, 0.14]}
    new_train, new_held, counts = splits.leak_check(
        [rec("train", "a", fact="f")], [rec("eval", "a", fact="f")], fake_embed(table), 0.9
    )
    assert new_held == [] and len(new_train) == 2 and counts == Counter(leak_dropped=1)


def test_a_close_question_with_another_answer_is_no_leak():
    table = {"eval": [1, 0], "other": [0.99, 0.14]}
    held = [rec("eval", "Paris", fact="f1")]
    train = [rec("other", "Berlin", fact="f2")]
    assert splits.leak_check(train, held, fake_embed(table), 0.9)[1] == held
    # ... unless the answers overlap (the same fact under another key)
    train = [rec("other", "in Paris", fact="f2")]
    assert splits.leak_check(train, held, fake_embed(table), 0.9)[1] == []


def test_with_paraphrases_coming_a_fact_asked_once_is_held_out():
    records = [rec("q1", "a1", fact="f1"), rec("q2a", "a2", fact="f2"), rec("q2b", "a2", fact="f2")]
    train, held = splits.by_question(records, seed=0, hold_singletons=True)
    assert sorted(r.fact for r in held) == ["f1", "f2"] and [r.fact for r in train] == ["f2"]


def test_an_answer_with_no_words_is_not_grounded_at_all():
    assert filters.grounding_share("the", "the lake") == 0.0
    assert filters.grounding_share("Lake Tahoe", SOURCE) == 0.5


def test_apply_counts_each_drop():
    records = [rec("How deep is Lake Baikal?", "1642 metres")] * 3
    _, dropped = filters.apply(records, {"d#0": SOURCE}, 5, 0.5)
    assert dropped == Counter(duplicate=2)


def test_a_cosine_equal_to_the_threshold_is_a_near_duplicate():
    e = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    assert filters.near_duplicates(e, 1.0) == [1]


def test_splits_are_seeded():
    records = [rec(f"q{i}-{j}", f"a{i}", fact=f"f{i}", doc=f"doc{i % 10}")
               for i in range(20) for j in range(5)]  # fmt: skip
    assert splits.by_question(records, 3) == splits.by_question(records, 3)
    assert splits.by_question(records, 3) != splits.by_question(records, 4)
    docs = [f"doc{i}" for i in range(10)]
    assert splits.by_document(records, docs, 0.3, 3) == splits.by_document(records, docs, 0.3, 3)


@pytest.mark.parametrize(("n_docs", "fraction", "n_eval"), [(5, 0.1, 1), (3, 0.99, 2), (2, 0.5, 1)])
def test_by_document_holds_out_at_least_one_and_never_all(n_docs, fraction, n_eval):
    records = [rec(f"q{d}", f"a{d}", doc=f"doc{d}") for d in range(n_docs)]
    _, held = splits.by_document(records, [f"doc{d}" for d in range(n_docs)], fraction, 0)
    assert len({r.doc_id for r in held}) == n_eval


def test_the_leak_check_goes_through_every_eval_question():
    table = {"clean": [0, 0, 0, 1], "move": [1, 0, 0, 0], "move-close": [0.99, 0.14, 0, 0],
             "move-far": [0, 0, 1, 0], "drop": [0, 1, 0, 0], "drop-close": [0.14, 0.99, 0, 0],
             "move2": [0.7, 0.7, 0, 0], "move2-close": [0.7, 0.71, 0, 0],
             "move2-far": [0, 0, 0.6, 0.8], "drop2": [0, 0.6, 0.8, 0],
             "drop2-close": [0, 0.61, 0.79, 0]}  # fmt: skip
    held = [rec(q, q, fact=q) for q in ("clean", "move", "drop", "move2", "drop2")]
    train = [rec(f"{q}-{kind}", q, fact=q) for q in ("move", "move2") for kind in ("close", "far")]
    train += [rec(f"{q}-close", q, fact=q) for q in ("drop", "drop2")]
    new_train, new_held, counts = splits.leak_check(train, held, fake_embed(table), 0.9)
    assert [r.instruction for r in new_held] == ["clean", "move-far", "move2-far"]
    assert counts == Counter(leak_moved=2, leak_dropped=2)
    names = sorted(r.instruction for r in new_train)
    assert names == sorted(["move", "move-close", "move2", "move2-close", "drop", "drop-close",
                            "drop2", "drop2-close"])  # fmt: skip


def test_the_leak_check_needs_one_embedding_per_question():
    def short(texts):
        return np.eye(len(texts) - 1, 2, dtype=np.float32)

    with pytest.raises(ValueError):
        splits.leak_check([rec("a", "x", fact="f")], [rec("b", "x", fact="f")], short, 0.9)


def test_answers_overlapping_exactly_half_are_different_answers():
    table = {"eval": [1, 0], "other": [1, 0]}
    held = [rec("eval", "Paris", fact="f1")]
    train = [rec("other", "Paris France Europe", fact="f2")]  # token F1 with "Paris": 0.5
    assert splits.leak_check(train, held, fake_embed(table), 0.9)[1] == held


def test_a_cosine_equal_to_the_leak_threshold_is_a_leak():
    table = {"eval": [1, 0], "train": [1, 0]}
    out = splits.leak_check([rec("train", "a", fact="f")], [rec("eval", "a", fact="f")],
                            fake_embed(table), 1.0)  # fmt: skip
    assert out[1] == [] and out[2] == Counter(leak_dropped=1)
