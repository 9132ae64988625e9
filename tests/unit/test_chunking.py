"""Sentence splitting for chunking (chunk_documents itself: test_retrieval.py)."""

from __future__ import annotations

from ragft.retrieval.chunking import split_sentences


def test_split_sentences_cuts_after_each_sentence_end_and_keeps_the_tail():
    text = 'He said "Go." Then he left! Why? No end'
    assert split_sentences(text) == ['He said "Go." ', "Then he left! ", "Why? ", "No end"]
    assert "".join(split_sentences(text)) == text


def test_split_sentences_gives_no_empty_piece_after_a_final_sentence_end():
    assert split_sentences("One. Two.\n") == ["One. ", "Two.\n"]
    assert split_sentences("") == []
