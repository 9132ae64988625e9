"""What every retriever offers: its chunks, its build figures, and a batched `search`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from ragft.records import IndexStats
from ragft.types import Chunk, Passage

# Corpora at least this many chunks long get progress bars while they are indexed.
PROGRESS_MIN_CHUNKS = 1000


class Retriever(ABC):
    """An index over chunks.

    `stats` (an IndexStats) holds build_seconds, index_bytes (size on disk of its cache
    entries), n_chunks and cache_hit (1.0 when the index came from the cache, else 0.0).
    """

    chunks: list[Chunk]
    stats: IndexStats

    @abstractmethod
    def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        """For each query, its best min(k, number of chunks) passages, rank 1 first."""


def check_search_args(queries: list[str], k: int) -> None:
    if isinstance(queries, str):
        raise TypeError("search() takes a list of queries, not one string")
    if k <= 0:
        raise ValueError(f"k={k} must be a positive integer")


def check_chunks(chunks: list[Chunk]) -> None:
    if not chunks:
        raise ValueError("a retriever needs at least one chunk to index")


def to_passages(chunks: list[Chunk], ids: Sequence[int], scores: Sequence[float]) -> list[Passage]:
    """Chunk indices and their scores, best first, as ranked Passages; negative ids skipped."""
    # faiss pads with -1 when an approximate index finds fewer than k
    found = [(chunks[i], score) for i, score in zip(ids, scores, strict=True) if i >= 0]
    return [
        Passage(c.id, c.doc_id, c.text, float(score), rank)
        for rank, (c, score) in enumerate(found, 1)
    ]


def entry_bytes(folder: Path) -> int:
    """Size on disk of a cache entry (all its files); 0 if it is gone."""
    if not folder.is_dir():
        return 0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
