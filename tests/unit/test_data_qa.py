"""ragft.data.qa: QA and Alpaca JSONL rows, the seeded split, and what loading logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragft.data.qa import load_alpaca_jsonl, load_qa_jsonl

from ..helpers import raises_exactly, write_jsonl

LIST = "(expected a non-empty list of non-empty strings)"
ANSWERS = "(expected a list of non-empty strings, [] for an unanswerable question)"


def qa_row(i: int, **extra) -> dict:
    return {"id": f"q{i}", "question": f"Q{i}?", "answers": [f"a{i}"], **extra}


def alpaca_row(i: int, **extra) -> dict:
    return {"id": f"a{i}", "instruction": f"Do {i}.", "output": f"done {i}", **extra}


def file_order(id_: str) -> int:
    return int(id_[1:])


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "text": "Doc one."}])


# ---------------------------------------------------------------- QA rows


def test_qa_row_missing_answers_says_what_is_expected(tmp_path):
    p = write_jsonl(tmp_path / "qa.jsonl", [qa_row(0), {"id": "x", "question": "Q?"}])
    with raises_exactly(f"{p}:2: field 'answers' is missing {ANSWERS}"):
        load_qa_jsonl(p, None, 0.5, 0)


def test_qa_row_with_answer_instead_of_answers_is_told_to_rename_it(tmp_path):
    p = write_jsonl(
        tmp_path / "qa.jsonl", [qa_row(0), {"id": "x", "question": "Q?", "answer": "a"}]
    )
    with raises_exactly(
        f"{p}:2: field 'answers' is missing (expected a list of strings; "
        "found 'answer': rename it to 'answers' and make it a list)"
    ):
        load_qa_jsonl(p, None, 0.5, 0)


def test_qa_row_with_both_answers_and_answer_uses_answers(tmp_path):
    p = write_jsonl(tmp_path / "qa.jsonl", [qa_row(0, answer="ignored", split="eval")])
    (ex,) = load_qa_jsonl(p, None, 0.5, 0).eval
    assert ex.answers == ("a0",)


def test_qa_gold_doc_ids_are_optional(tmp_path):
    rows = [qa_row(0, split="eval"), qa_row(1, split="eval", gold_doc_ids=None)]
    ds = load_qa_jsonl(write_jsonl(tmp_path / "qa.jsonl", rows), None, 0.5, 0)
    assert [ex.gold_doc_ids for ex in ds.eval] == [(), ()]


# ---------------------------------------------------------------- Alpaca rows


def test_alpaca_gold_doc_ids_are_read(tmp_path):
    rows = [alpaca_row(0, split="eval", gold_doc_ids=["d1", "d2"]), alpaca_row(1, split="train")]
    ds = load_alpaca_jsonl(write_jsonl(tmp_path / "a.jsonl", rows), None, 0.5, 0)
    assert [ex.gold_doc_ids for ex in ds.eval] == [("d1", "d2")]
    assert [ex.gold_doc_ids for ex in ds.train] == [()]


def test_alpaca_bad_gold_doc_ids_name_file_and_line(tmp_path):
    p = write_jsonl(tmp_path / "a.jsonl", [alpaca_row(0), alpaca_row(1, gold_doc_ids=[3])])
    with raises_exactly(f"{p}:2: field 'gold_doc_ids' item 0 is a number {LIST}"):
        load_alpaca_jsonl(p, None, 0.5, 0)


def test_alpaca_reads_the_corpus_and_warns_about_unknown_gold(tmp_path, corpus, caplog):
    rows = [alpaca_row(0, split="eval", gold_doc_ids=["d1", "zz"])]
    p = write_jsonl(tmp_path / "a.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="ragft.data.qa"):
        ds = load_alpaca_jsonl(p, corpus, 0.5, 0)
    assert [d.id for d in ds.corpus] == ["d1"]
    assert f"{p}: 1 gold_doc_ids are not in the corpus: 'zz'" in caplog.text


# ---------------------------------------------------------------- the seeded split


@pytest.mark.parametrize("loader,row", [(load_qa_jsonl, qa_row), (load_alpaca_jsonl, alpaca_row)])
def test_split_is_the_same_for_the_same_seed_and_differs_across_seeds(tmp_path, loader, row):
    p = write_jsonl(tmp_path / "rows.jsonl", [row(i) for i in range(30)])
    splits = {}
    for seed in (0, 1, 2):
        ds = loader(p, None, 0.5, seed)
        assert ds == loader(p, None, 0.5, seed)
        assert len(ds.eval) == 15 and len(ds.train) == 15
        ids = [ex.id for ex in ds.train + ds.eval]
        assert sorted(ids) == sorted(r["id"] for r in map(row, range(30)))
        # file order is kept inside each split
        for split in (ds.train, ds.eval):
            assert [ex.id for ex in split] == sorted((ex.id for ex in split), key=file_order)
        splits[seed] = frozenset(ex.id for ex in ds.eval)
    assert len(set(splits.values())) == 3


def test_split_field_on_some_rows_only_names_the_first_row_without(tmp_path):
    rows = [qa_row(0, split="eval"), qa_row(1, split="train"), qa_row(2)]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    with raises_exactly(
        f"{p}:3: field 'split' is missing (expected 'train' or 'eval': "
        "other rows have one, so every row needs one)"
    ):
        load_qa_jsonl(p, None, 0.5, 0)


def test_loading_logs_the_split_sizes(tmp_path, caplog):
    rows = [qa_row(0, split="eval"), qa_row(1, split="train"), qa_row(2, split="train")]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    with caplog.at_level(logging.INFO, logger="ragft.data.qa"):
        load_qa_jsonl(p, None, 0.5, 0)
    assert [r.getMessage() for r in caplog.records if r.name == "ragft.data.qa"] == [
        f"{p}: 2 train, 1 eval examples"
    ]


# ---------------------------------------------------------------- unknown gold documents


def gold_warning(tmp_path: Path, corpus: Path, n_unknown: int, caplog) -> str:
    rows = [qa_row(0, split="eval", gold_doc_ids=["d1"])]
    rows += [qa_row(i + 1, split="eval", gold_doc_ids=[f"u{i}"]) for i in range(n_unknown)]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ragft.data.qa"):
        load_qa_jsonl(p, corpus, 0.5, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if not warnings:
        return ""
    (message,) = warnings
    prefix = f"{p}: "
    assert message.startswith(prefix)
    return message[len(prefix) :]


def test_no_warning_when_every_gold_doc_is_in_the_corpus(tmp_path, corpus, caplog):
    assert gold_warning(tmp_path, corpus, 0, caplog) == ""


@pytest.mark.parametrize(
    "n,listed",
    [
        (1, "'u0'"),
        (5, "'u0', 'u1', 'u2', 'u3', 'u4'"),
        (6, "'u0', 'u1', 'u2', 'u3', 'u4' and 1 more"),
        (8, "'u0', 'u1', 'u2', 'u3', 'u4' and 3 more"),
    ],
)
def test_unknown_gold_docs_warning_lists_five_then_counts_the_rest(
    tmp_path, corpus, caplog, n, listed
):
    assert gold_warning(tmp_path, corpus, n, caplog) == (
        f"{n} gold_doc_ids are not in the corpus: {listed} (recall@k and MRR cannot find them)"
    )
