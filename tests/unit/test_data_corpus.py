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
    assert f"{tmp_path / 'blank.txt'}: no text in it, skipped" in messages
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


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose page shows `text` (Helvetica), with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_pdf_word_and_html_documents_are_read_with_llama_index_readers(tmp_path):
    import docx

    (tmp_path / "a.pdf").write_bytes(minimal_pdf("Lake Baikal is the deepest lake."))
    word = docx.Document()
    word.add_paragraph("The Vearvwyn telescope was invented in 1916.")
    word.save(tmp_path / "b.docx")
    (tmp_path / "c.html").write_text(
        "<html><head><title>t</title><style>p {color: red}</style></head>"
        "<body><h1>Demylkard</h1><p>A town of <b>markets</b>.</p></body></html>"
    )
    (tmp_path / "d.md").write_text("# Notes\n\nPlain *Markdown* stays as written.\n")
    docs = {d.id: d.text for d in load_corpus(tmp_path)}
    assert "Lake Baikal is the deepest lake." in docs["a.pdf"]
    assert "The Vearvwyn telescope was invented in 1916." in docs["b.docx"]
    assert "Demylkard" in docs["c.html"] and "markets" in docs["c.html"]
    assert "<b>" not in docs["c.html"] and "color: red" not in docs["c.html"]
    assert docs["d.md"] == "# Notes\n\nPlain *Markdown* stays as written.\n"


def test_a_document_without_text_is_reported_and_a_damaged_one_is_an_error(tmp_path, caplog):
    (tmp_path / "ok.txt").write_text("Some text.")
    (tmp_path / "empty.html").write_text("<html><body>   </body></html>")
    with caplog.at_level(logging.WARNING, logger="ragft.data.corpus"):
        assert [d.id for d in load_corpus(tmp_path)] == ["ok.txt"]
    assert f"{tmp_path / 'empty.html'}: no text in it, skipped" in caplog.messages
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(DataError, match=r"bad\.pdf: cannot read it \("):
        load_corpus(tmp_path)


def test_a_rich_document_without_the_docs_extra_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_readers(name, *args, **kwargs):
        if name.startswith("llama_index.readers.file"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_readers)
    (tmp_path / "a.pdf").write_bytes(minimal_pdf("x"))
    with pytest.raises(DataError, match=r"a\.pdf: reading \.pdf files needs the docs extra: "
                       r"pip install 'ragft\[docs\]'"):  # fmt: skip
        load_corpus(tmp_path)
