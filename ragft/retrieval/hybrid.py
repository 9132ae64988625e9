"""Hybrid retrieval: BM25 and dense candidates fused by reciprocal rank."""

from __future__ import annotations

import math

from ragft.records import IndexStats
from ragft.retrieval.base import Retriever, check_search_args
from ragft.retrieval.bm25 import BM25Retriever
from ragft.retrieval.dense import DenseRetriever
from ragft.types import Passage


def reciprocal_rank_fusion(rankings: list[list[str]], rrf_k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over rankings of 1 / (rrf_k + rank), rank 1-based.

    Returns (id, score) best first. Equal scores keep the order in which the ids first appear
    (scanning the rankings in order), so the result is deterministic. Within one ranking only
    an id's first occurrence counts.
    """
    if rrf_k < 0:
        raise ValueError(f"rrf_k={rrf_k} must be >= 0")
    terms: dict[str, list[float]] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item not in seen:
                seen.add(item)
                terms.setdefault(item, []).append(1.0 / (rrf_k + rank))
    # fsum is exactly rounded, so equal sets of terms give equal scores in any order.
    fused = [(item, math.fsum(t)) for item, t in terms.items()]
    fused.sort(key=lambda pair: -pair[1])  # stable: ties stay in first-appearance order
    return fused


class HybridRetriever(Retriever):
    """Takes `candidates` hits from each retriever and returns the RRF-fused top k."""

    def __init__(
        self,
        bm25: BM25Retriever,
        dense: DenseRetriever,
        *,
        candidates: int = 20,
        rrf_k: int = 60,
    ):
        if [c.id for c in bm25.chunks] != [c.id for c in dense.chunks]:
            raise ValueError("the BM25 and dense retrievers must index the same chunks")
        if candidates <= 0:
            raise ValueError(f"candidates={candidates} must be positive")
        if rrf_k < 0:
            raise ValueError(f"rrf_k={rrf_k} must be >= 0")
        self.bm25, self.dense = bm25, dense
        self.candidates, self.rrf_k = candidates, rrf_k
        self.chunks = bm25.chunks
        self._by_id = {c.id: c for c in self.chunks}
        self.stats = IndexStats(
            build_seconds=bm25.stats.build_seconds + dense.stats.build_seconds,
            index_bytes=bm25.stats.index_bytes + dense.stats.index_bytes,
            n_chunks=float(len(self.chunks)),
            cache_hit=min(bm25.stats.cache_hit, dense.stats.cache_hit),
        )

    def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        check_search_args(queries, k)
        if not queries:
            return []
        n = max(self.candidates, k)
        results = []
        lexical_hits = self.bm25.search(queries, n)
        semantic_hits = self.dense.search(queries, n)
        for lexical, semantic in zip(lexical_hits, semantic_hits, strict=True):
            rankings = [
                # A zero BM25 score shares no word with the query: its rank carries no evidence.
                [p.chunk_id for p in lexical if p.score > 0],
                [p.chunk_id for p in semantic],
            ]
            fused = reciprocal_rank_fusion(rankings, self.rrf_k)[:k]
            results.append(
                [
                    Passage(cid, self._by_id[cid].doc_id, self._by_id[cid].text, score, rank)
                    for rank, (cid, score) in enumerate(fused, start=1)
                ]
            )
        return results
