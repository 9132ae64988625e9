"""HybridRetriever's own contract, on stand-in retrievers (no index, no embedder): its
arguments are checked, its defaults are the config's, its build figures combine both
indexes', and a query must come in a list. (Fusion on real indexes: test_retrieval.py.)"""

from __future__ import annotations

import pytest

from ragft.config import RetrieverConfig
from ragft.records import IndexStats
from ragft.retrieval.hybrid import HybridRetriever
from ragft.types import Chunk, Passage

CHUNKS = [Chunk("d1#0", "d1", "alpha beta"), Chunk("d2#0", "d2", "gamma delta")]


class Ranked:
    """A retriever stand-in that answers every query with the same ranking."""

    def __init__(self, ids: list[str], stats: IndexStats, chunks=CHUNKS, scores=None):
        self.chunks, self.stats, self.ids = list(chunks), stats, ids
        self.scores = scores or [1.0] * len(ids)
        self.calls: list[tuple[list[str], int]] = []

    def search(self, queries, k):
        self.calls.append((list(queries), k))
        by_id = {c.id: c for c in self.chunks}
        hits = [
            Passage(i, by_id[i].doc_id, by_id[i].text, score, r)
            for r, (i, score) in enumerate(zip(self.ids, self.scores, strict=True), 1)
        ]
        return [hits[:k] for _ in queries]


def pair(**hybrid_args) -> HybridRetriever:
    bm25 = Ranked(["d1#0", "d2#0"], IndexStats(0.25, 100, 2, 1.0))
    dense = Ranked(["d2#0", "d1#0"], IndexStats(1.5, 4000, 2, 0.0))
    return HybridRetriever(bm25, dense, **hybrid_args)


def test_defaults_are_the_configs():
    h, cfg = pair(), RetrieverConfig()
    assert (h.candidates, h.rrf_k) == (cfg.candidates, cfg.rrf_k) == (20, 60)


def test_build_figures_add_up_and_a_cache_hit_needs_both_indexes():
    assert pair().stats == IndexStats(
        build_seconds=1.75, index_bytes=4100, n_chunks=2, cache_hit=0.0
    )


def test_retrievers_over_different_chunks_are_refused():
    other = Ranked(["d1#0"], IndexStats(0, 0, 1, 0.0), chunks=CHUNKS[:1])
    with pytest.raises(
        ValueError, match="^the BM25 and dense retrievers must index the same chunks$"
    ):
        HybridRetriever(other, Ranked([], IndexStats(0, 0, 2, 0.0)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"candidates": 0}, "candidates=0 must be positive"),
        ({"rrf_k": -1}, "rrf_k=-1 must be >= 0"),
    ],
)
def test_bad_arguments_are_refused_by_name(args, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        pair(**args)


def test_the_smallest_allowed_arguments_work():
    h = pair(candidates=1, rrf_k=0)
    hits = h.search(["q"], k=1)
    # each side contributes its top hit only; with rrf_k=0 both score 1/1, d1 seen first
    assert [(p.chunk_id, p.score, p.rank) for p in hits[0]] == [("d1#0", 1.0, 1)]
    assert h.bm25.calls == h.dense.calls == [(["q"], 1)]


def test_one_string_instead_of_a_list_of_queries_is_refused():
    with pytest.raises(TypeError, match="a list of queries, not one string"):
        pair().search("alpha", k=1)


def test_a_bm25_hit_that_shares_no_word_with_the_query_adds_nothing():
    """BM25 ranks every chunk, also those scoring 0; such a rank is no evidence."""
    bm25 = Ranked(["d1#0"], IndexStats(0, 0, 2, 0.0), scores=[0.0])
    dense = Ranked(["d2#0", "d1#0"], IndexStats(0, 0, 2, 0.0))
    hits = HybridRetriever(bm25, dense, rrf_k=60).search(["q"], k=2)[0]
    assert [(p.chunk_id, p.score) for p in hits] == [("d2#0", 1 / 61), ("d1#0", 1 / 62)]


def test_a_retriever_that_answers_fewer_queries_than_asked_is_an_error():
    class Short(Ranked):
        def search(self, queries, k):
            return super().search(queries, k)[:-1]

    h = HybridRetriever(
        Short(["d1#0"], IndexStats(0, 0, 2, 0.0)), Ranked(["d2#0"], IndexStats(0, 0, 2, 0.0))
    )
    with pytest.raises(ValueError, match="zip"):
        h.search(["q1", "q2"], k=1)
