"""Documents to chunks: sentence-aware windows whose sizes are counted in words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.node_parser import SentenceSplitter

from ragft.errors import DataError
from ragft.types import Chunk, Document

# A sentence ends at . ! or ? (possibly closing quotes/brackets) followed by whitespace.
# llama-index's default sentence splitter is nltk's Punkt, which first checks for data it may
# download and whose regex hits nltk's 5 s ReDoS guard on multi-megabyte documents; this linear
# regex needs neither.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u2019\u201d)\]]*\s+")


def split_sentences(text: str) -> list[str]:
    """Cut text after each sentence end; the pieces concatenate back to `text`."""
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        pieces.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def count_words(text: str) -> int:
    """The size measure of chunks: whitespace-separated words."""
    return len(text.split())


def _has_title(piece: str, title: str) -> bool:
    head = piece.lstrip().lstrip("#").lstrip()
    return head.casefold().startswith(title.casefold())


def chunk_documents(docs: Sequence[Document], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split each document into chunks of at most `chunk_size` words.

    Consecutive chunks of a document share up to `chunk_overlap` words; cuts fall on sentence
    ends where possible. Chunk ids are f"{doc.id}#{i}". A non-empty title is put as a first line
    on every chunk that does not already start with it, so a chunk from the middle of a
    document still names its subject (a chunk about "its population" is findable by the city's
    name); that line is not counted in `chunk_size`.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size={chunk_size} must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"chunk_overlap={chunk_overlap} must be >= 0 and < chunk_size")
    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=str.split,  # sizes in words; also keeps llama-index from fetching tiktoken
        chunking_tokenizer_fn=split_sentences,
        include_metadata=False,
        include_prev_next_rel=False,
    )
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.id in seen:
            raise DataError(f"document id {doc.id!r} appears more than once in the corpus")
        seen.add(doc.id)
        title = " ".join(doc.title.split())
        if count_words(doc.text) <= chunk_size:
            # What the splitter would return, without its per-call overhead (~0.4 ms).
            pieces = [doc.text.strip()] if doc.text.strip() else []
        else:
            pieces = [p for p in splitter.split_text(doc.text) if p.strip()]
        for i, piece in enumerate(pieces):
            text = piece if not title or _has_title(piece, title) else f"{title}\n{piece}"
            chunks.append(Chunk(id=f"{doc.id}#{i}", doc_id=doc.id, text=text))
    return chunks
