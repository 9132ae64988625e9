"""Sentence splitting for chunking (chunk_documents itself: test_retrieval.py)."""

from __future__ import annotations

import pytest

from ragft.retrieval.chunking import chunk_documents, split_sentences
from ragft.types import Chunk, Document


def test_split_sentences_cuts_after_each_sentence_end_and_keeps_the_tail():
    text = 'He said "Go." Then he left! Why? No end'
    assert split_sentences(text) == ['He said "Go." ', "Then he left! ", "Why? ", "No end"]
    assert "".join(split_sentences(text)) == text


def test_split_sentences_gives_no_empty_piece_after_a_final_sentence_end():
    assert split_sentences("One. Two.\n") == ["One. ", "Two.\n"]
    assert split_sentences("") == []


def test_a_chunk_opening_with_its_title_as_a_markdown_heading_gets_no_title_line():
    docs = [
        Document("a", "# Zembla Port\n\nA small harbour town.", title="Zembla Port"),
        Document("b", "## zembla harbour is old.", title="  Zembla   HARBOUR "),
        Document("x", "Xanten lies on the Rhine.", title="Xanten"),
    ]
    chunks = chunk_documents(docs, chunk_size=16, chunk_overlap=0)
    assert [c.text for c in chunks] == [
        "# Zembla Port\n\nA small harbour town.",
        "## zembla harbour is old.",
        "Xanten lies on the Rhine.",
    ]


def test_a_chunk_not_opening_with_its_title_gets_the_title_as_first_line():
    docs = [Document("a", "  It has a harbour. ", title="Zembla\n Port")]
    chunks = chunk_documents(docs, chunk_size=16, chunk_overlap=0)
    assert chunks == [Chunk("a#0", "a", "Zembla Port\nIt has a harbour.")]


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size=0 must be positive"):
        chunk_documents([Document("a", "text")], chunk_size=0, chunk_overlap=0)


def test_chunk_size_one_cuts_every_word_into_its_own_chunk():
    chunks = chunk_documents([Document("a", "one two")], chunk_size=1, chunk_overlap=0)
    assert chunks == [Chunk("a#0", "a", "one"), Chunk("a#1", "a", "two")]


def test_long_documents_are_cut_at_sentence_ends_without_splitting_an_ellipsis():
    # sentences: "Wait... " (1 word), "then go now. " (3), "The ship is slow!" (4); with 2 words
    # a chunk, the longer ones are cut into words and packed greedily
    doc = Document("w", "Wait... then go now. The ship is slow!")
    chunks = chunk_documents([doc], chunk_size=2, chunk_overlap=0)
    assert [c.text for c in chunks] == ["Wait... then", "go now.", "The ship", "is slow!"]
