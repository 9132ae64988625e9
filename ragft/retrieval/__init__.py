"""The retrieval stage: chunk the corpus, build (or load from the cache) an index, search it.

retriever = retrieval.build(cfg.retriever, corpus, cache)
passages = retriever.search(questions, k=cfg.retriever.k)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ragft.cache import Cache
from ragft.errors import DataError
from ragft.retrieval.base import Retriever
from ragft.retrieval.bm25 import BM25Retriever
from ragft.retrieval.chunking import chunk_documents
from ragft.retrieval.dense import DenseRetriever, resolve_embedder_path
from ragft.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion
from ragft.types import Chunk, Document

if TYPE_CHECKING:
    from ragft.config import RetrieverConfig

__all__ = [
    "RETRIEVERS",
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "Retriever",
    "build",
    "chunk_documents",
    "reciprocal_rank_fusion",
]

log = logging.getLogger(__name__)


def _bm25(cfg: RetrieverConfig, chunks: list[Chunk], cache: Cache) -> BM25Retriever:
    return BM25Retriever(chunks, cache)


def _dense(cfg: RetrieverConfig, chunks: list[Chunk], cache: Cache) -> DenseRetriever:
    e = cfg.embedder
    return DenseRetriever(
        chunks,
        cache,
        embedder_path=resolve_embedder_path(e.package, e.path),
        batch_size=e.batch_size,
        device=e.device,
        index_factory=cfg.index_factory,
        nprobe=cfg.nprobe,
        faiss_gpu=cfg.faiss_gpu,
    )


def _hybrid(cfg: RetrieverConfig, chunks: list[Chunk], cache: Cache) -> HybridRetriever:
    return HybridRetriever(
        _bm25(cfg, chunks, cache),
        _dense(cfg, chunks, cache),
        candidates=cfg.candidates,
        rrf_k=cfg.rrf_k,
    )


RETRIEVERS: dict[str, Callable[[RetrieverConfig, list[Chunk], Cache], Retriever]] = {
    "bm25": _bm25,
    "dense": _dense,
    "hybrid": _hybrid,
}


def build(cfg: RetrieverConfig, corpus: Sequence[Document], cache: Cache) -> Retriever:
    """Chunk `corpus` and build the retriever `cfg.name` names, reusing cached indexes.

    `stats.build_seconds` covers chunking too. retriever=none builds nothing: the caller
    does not call this then.
    """
    start = time.perf_counter()
    chunks = chunk_documents(corpus, cfg.chunk_size, cfg.chunk_overlap)
    if not chunks:
        raise DataError(f"the corpus ({len(corpus)} documents) has no text to index")
    retriever = RETRIEVERS[cfg.name](cfg, chunks, cache)
    s = retriever.stats = dataclasses.replace(
        retriever.stats, build_seconds=time.perf_counter() - start
    )
    log.info(
        "retriever %s: %d chunks from %d documents, built in %.2f s, index %.1f MB, cache %s",
        cfg.name,
        int(s.n_chunks),
        len(corpus),
        s.build_seconds,
        s.index_bytes / 1e6,
        "hit" if s.cache_hit else "miss",
    )
    return retriever
