"""Lexical retrieval: BM25 over the chunks with `bm25s`, its index cached on disk."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bm25s

from ragft.cache import Cache, texts_sha256
from ragft.records import IndexStats
from ragft.retrieval.base import (
    PROGRESS_MIN_CHUNKS,
    Retriever,
    check_chunks,
    check_search_args,
    entry_bytes,
    to_passages,
)
from ragft.types import Chunk, Passage

# bm25s forces its logger to DEBUG on import; let the application's logging settings decide.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

# English stopwords, no stemmer: a stemmer needs PyStemmer, which ragft does not depend on.
STOPWORDS = "en"


def _tokenize(texts: list[str], *, ids: bool, progress: bool = False):
    return bm25s.tokenize(
        texts, stopwords=STOPWORDS, stemmer=None, return_ids=ids, show_progress=progress
    )


class BM25Retriever(Retriever):
    """BM25 (Lucene variant) over chunk texts."""

    def __init__(
        self,
        chunks: list[Chunk],
        cache: Cache,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ):
        check_chunks(chunks)
        start = time.perf_counter()
        self.chunks = list(chunks)
        texts = [c.text for c in self.chunks]
        progress = len(texts) >= PROGRESS_MIN_CHUNKS
        parts = {
            "chunks": texts_sha256(texts),
            "k1": k1,
            "b": b,
            "method": method,
            "stopwords": STOPWORDS,
            "stemmer": None,
            "bm25s": bm25s.__version__,  # its on-disk format is its own
        }

        def build(folder: Path) -> None:
            index = bm25s.BM25(k1=k1, b=b, method=method)
            index.index(_tokenize(texts, ids=True, progress=progress), show_progress=progress)
            index.save(str(folder), show_progress=False)

        folder, hit = cache.get_or_build("bm25", parts, build)
        # Always search the saved copy, so a fresh build and a cache hit answer identically.
        self._index = bm25s.BM25.load(str(folder), show_progress=False)
        self.stats = IndexStats(
            build_seconds=time.perf_counter() - start,
            index_bytes=float(entry_bytes(folder)),
            n_chunks=float(len(self.chunks)),
            cache_hit=float(hit),
        )

    def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        check_search_args(queries, k)
        if not queries:
            return []
        k = min(k, len(self.chunks))
        # Query words the corpus never uses are dropped by bm25s; an all-unknown query scores 0
        # everywhere and still gets k passages (in a fixed, arbitrary order).
        ids, scores = self._index.retrieve(
            _tokenize(list(queries), ids=False), k=k, show_progress=False
        )
        return [
            to_passages(self.chunks, row_ids, row_scores)
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True)
        ]
