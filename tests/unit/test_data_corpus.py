"""ragft.data.corpus: what loading a corpus logs, and the errors JSONL corpora give."""

from __future__ import annotations

import json
import logging
import re

import pytest

from ragft.data.corpus import load_corpus
from ragft.errors import DataError

READER_LOGGER = "llama_index.core.readers.file.base"
MISSING_READERS = "llama-index-readers-file"


def test_folder_corpus_logs_its_size_and_the_blank_files_it_skips(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    (tmp_path / "b.md").write_text("Beta.", encoding="utf-8")
    (tmp_path / "blank.txt").write_text(" \n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="ragft.data.corpus"):
        docs = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["a.txt", "b.md"]
    messages = [r.getMessage() for r in caplog.records if r.name == "ragft.data.corpus"]
    assert f"{tmp_path / 'blank.txt'}: blank, skipped" in messages
    assert messages[-1] == f"{tmp_path}: 2 documents"


def test_jsonl_corpus_logs_its_size(tmp_path, caplog):
    p = tmp_path / "c.jsonl"
    p.write_text("".join(json.dumps({"id": i, "text": "x"}) + "\n" for i in range(3)))
    with caplog.at_level(logging.INFO, logger="ragft.data.corpus"):
        load_corpus(p)
    assert [r.getMessage() for r in caplog.records] == [f"{p}: 3 documents"]


def test_folder_corpus_silences_the_missing_readers_warning_while_loading_only(tmp_path, caplog):
    """llama-index warns once per file that its optional readers are missing; we read plain
    text only, so that warning is dropped while we load, and other messages pass."""
    for name in ("a.txt", "b.md", "c.txt"):
        (tmp_path / name).write_text(f"Text of {name}.", encoding="utf-8")
    reader_log = logging.getLogger(READER_LOGGER)
    filters_before = list(reader_log.filters)
    with caplog.at_level(logging.INFO):
        assert len(load_corpus(tmp_path)) == 3
    assert not any(MISSING_READERS in r.getMessage() for r in caplog.records)
    assert reader_log.filters == filters_before  # our filter is gone afterwards
    caplog.clear()
    with caplog.at_level(logging.INFO):
        reader_log.warning("`%s` package not found", MISSING_READERS)
    assert [r.getMessage() for r in caplog.records] == [f"`{MISSING_READERS}` package not found"]


def test_missing_readers_filter_lets_other_messages_through(tmp_path):
    from ragft.data.corpus import _DropMissingReadersWarning

    quiet = _DropMissingReadersWarning()

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord(READER_LOGGER, logging.WARNING, __file__, 1, msg, None, None)

    assert not quiet.filter(record(f"`{MISSING_READERS}` package not found, ..."))
    assert quiet.filter(record("Failed to load file x.txt"))


def test_jsonl_corpus_errors_name_file_and_line_for_the_title(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(
        json.dumps({"id": "a", "text": "x"})
        + "\n"
        + json.dumps({"id": "b", "text": "y", "title": 5})
    )
    with pytest.raises(
        DataError,
        match="^" + re.escape(f"{p}:2: field 'title' is a number (expected a non-empty string)"),
    ):
        load_corpus(p)


def test_jsonl_corpus_title_is_optional(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"id": "a", "text": "x", "title": None}) + "\n")
    (doc,) = load_corpus(p)
    assert (doc.id, doc.text, doc.title) == ("a", "x", "")
