"""Awkward but valid data that must load correctly (no error, nothing silently changed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ragft import data
from ragft.cache import Cache
from ragft.config import DataConfig, RetrieverConfig

ROWS = [
    {"id": f"q{i}", "question": f"Where did person {i} grow up?", "answers": [f"Town{i}"]}
    for i in range(6)
]


def qa_config(path: Path, corpus: Path | None = None) -> DataConfig:
    return DataConfig(name="qa-jsonl", path=str(path), corpus_path=str(corpus) if corpus else None)


@pytest.mark.measures("valid_input")
def test_byte_order_mark_is_dropped(tmp_path, tally):
    qa = tmp_path / "qa.jsonl"
    qa.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in ROWS).encode())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ilsa.txt").write_bytes(b"\xef\xbb\xbfIlsa grew up in Velmora.\n")
    ds = data.load(qa_config(qa, docs))
    examples = sorted(ds.train + ds.eval, key=lambda e: e.id)
    assert [e.id for e in examples] == [r["id"] for r in ROWS]  # first row kept, id intact
    assert ds.corpus[0].text.startswith("Ilsa")  # no U+FEFF glued to the first word
    tally.valid_input()


@pytest.mark.measures("valid_input")
def test_mixed_line_endings(tmp_path, tally):
    lines = [json.dumps(r) for r in ROWS]
    blob = "\r\n".join(lines[:3]) + "\n" + "\n".join(lines[3:]) + "\r\n"
    qa = tmp_path / "qa.jsonl"
    qa.write_bytes(blob.encode())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_bytes(
        b"# Ilsa\r\n\r\nIlsa grew up in Velmora.\nShe was born in 1887.\r\n"
    )
    ds = data.load(qa_config(qa, docs))
    assert len(ds.train + ds.eval) == len(ROWS)
    assert all("\r" not in e.question and "\r" not in e.answers[0] for e in ds.train + ds.eval)
    assert "Velmora" in ds.corpus[0].text and "1887" in ds.corpus[0].text
    tally.valid_input()


@pytest.mark.measures("valid_input")
def test_ten_megabyte_document_is_chunked_and_searchable(tmp_path, tally):
    """One 10 MB file: loads, chunks and indexes (bm25); the fact is found."""
    from ragft import retrieval

    docs = tmp_path / "docs"
    docs.mkdir()
    filler = "The committee met again and discussed the harvest at some length. "
    n = 10 * 2**20 // len(filler) + 2
    text = filler * (n // 2) + "Ilsa Brenn grew up in the town of Velmora. " + filler * (n // 2)
    (docs / "big.txt").write_text(text)
    assert (docs / "big.txt").stat().st_size >= 10 * 2**20
    qa = tmp_path / "qa.jsonl"
    row = {"id": "a", "question": "Where did Ilsa Brenn grow up?", "answers": ["Velmora"]}
    qa.write_text(json.dumps({**row, "split": "eval"}) + "\n")
    ds = data.load(qa_config(qa, docs))
    assert len(ds.corpus) == 1 and len(ds.corpus[0].text) == len(text)
    cfg = RetrieverConfig(name="bm25", k=1, chunk_size=48, chunk_overlap=8)
    retriever = retrieval.build(cfg, ds.corpus, Cache(tmp_path / "cache"))
    hits = retriever.search([row["question"]], 1)
    assert "Velmora" in hits[0][0].text
    tally.valid_input()


def test_fictional_kb_sample_depends_on_the_seed(tally):
    a = data.load(DataConfig(seed=0))
    again = data.load(DataConfig(seed=0))
    b = data.load(DataConfig(seed=1))
    assert data.fingerprint(a) == data.fingerprint(again)
    assert {d.title for d in a.corpus}.isdisjoint({d.title for d in b.corpus})
    assert [e.answers for e in a.eval] != [e.answers for e in b.eval]


@pytest.mark.measures("bad_input")
def test_gold_ids_that_name_no_document_are_kept_with_a_warning(tmp_path, caplog, tally):
    """Gold ids only feed recall@k and MRR: the run goes on, and the warning names them."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "text": "Ilsa grew up in Velmora."}) + "\n")
    qa = tmp_path / "qa.jsonl"
    rows = [{**r, "gold_doc_ids": ["d1" if i % 2 else "d9"]} for i, r in enumerate(ROWS)]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING, logger="ragft.data.qa"):
        ds = data.load(qa_config(qa, corpus))
    assert len(ds.train + ds.eval) == len(ROWS)  # nothing dropped, nothing changed
    assert {g for e in ds.train + ds.eval for g in e.gold_doc_ids} == {"d1", "d9"}
    assert f"{qa}: 1 gold_doc_ids are not in the corpus: 'd9'" in caplog.text
    tally.bad_input()


@pytest.mark.measures("valid_input")
def test_empty_answers_mark_an_unanswerable_question(tmp_path, tally):
    """SQuAD 2.0's unanswerable questions convert directly: "answers": [] loads, as such."""
    rows = [*ROWS, {"id": "u0", "question": "Where did nobody grow up?", "answers": []}]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = data.load(qa_config(qa))
    by_id = {e.id: e for e in ds.train + ds.eval}
    assert len(by_id) == len(rows)
    assert by_id["u0"].answers == () and by_id["q0"].answers == ("Town0",)
    tally.valid_input()
