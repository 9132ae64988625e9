"""From the user's documents to a leak-checked train / eval QA set (`data=generated`,
`generate.py`).

`build` runs the stage once per (corpus, generator config, seed) into the cache:
chunk -> records (extractive rules, or the two LLM steps) -> filters -> near-duplicates ->
split -> paraphrases -> leak check -> qa.jsonl, alpaca.jsonl, generation_report.md,
stats.json. A sweep's cells all find the one entry. An interrupted build resumes from its
request journal (`ragft/llm/journal.py`) and sends no answered request again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ragft.cache import Cache, hash_key, texts_sha256
from ragft.config import DatagenConfig, ModelConfig, QuantConfig, RunConfig
from ragft.datagen import filters, outputs, pipeline, splits
from ragft.datagen.prompts import Record
from ragft.errors import DataError
from ragft.llm.factory import make_backend
from ragft.llm.journal import Journal
from ragft.types import Dataset, Document

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the stage's output changes for the same inputs
FILES = ("qa.jsonl", "alpaca.jsonl", "generation_report.md", "stats.json")


def identity(
    corpus: tuple[Document, ...], cfg: DatagenConfig, model: ModelConfig, quant: QuantConfig,
    seed: int,
) -> dict:  # fmt: skip
    """What decides a generated set: the documents, the generator and its settings, the seed."""
    gen = dataclasses.asdict(cfg)
    gen.pop("name")
    for key in ("price_per_1k_input", "price_per_1k_output"):
        gen.pop(key)
    endpoint = gen.pop("endpoint")
    if cfg.backend == "openai":
        gen["endpoint"] = {k: endpoint[k] for k in ("base_url", "model", "max_tokens")}
    if cfg.backend == "extractive":
        for key in ("types", "max_types", "per_type", "max_field_chars", "batch_size"):
            gen.pop(key)
    if cfg.backend == "hf":
        gen["model"] = dataclasses.asdict(model)
        gen["quant"] = dataclasses.asdict(quant)
    docs = [part for d in corpus for part in ("D", d.id, d.title, d.text)]
    return {"format": FORMAT, "corpus": texts_sha256(docs), "datagen": gen, "seed": seed}


def build(
    corpus: tuple[Document, ...],
    cfg: DatagenConfig,
    make_backend: Callable[[], object] | None,
    cache: Cache,
    ident: dict,
    progress: bool = True,
) -> tuple[Path, bool]:
    """The generated set's cache entry (folder, hit); `make_backend()` runs on a miss only."""
    key = hash_key(ident)
    journal = Journal(cache.root / "datagen-journal" / f"{key}.jsonl")

    def generate(folder: Path) -> None:
        backend = make_backend() if make_backend is not None else None
        train, held, stats = run(corpus, cfg, backend, journal, ident["seed"], progress)
        outputs.write(folder, train, held, stats)

    entry, hit = cache.get_or_build("datagen", ident, generate)
    journal.path.unlink(missing_ok=True)  # the entry holds everything now
    return entry, hit


def backend_factory(
    cfg: DatagenConfig, model: ModelConfig, quant: QuantConfig, cache: Cache, seed: int
) -> Callable[[], object] | None:
    """What builds the backend `cfg.backend` names (None for the rule-based extractive)."""
    if cfg.backend == "extractive":
        return None
    return make_backend(cfg.backend, cfg.endpoint, model, quant, cache, seed, cfg.batch_size,
                        max(model.max_input_tokens, 2048), "datagen.endpoint")  # fmt: skip


def stage(run: RunConfig, cache: Cache, progress: bool = True) -> Callable[[tuple], Dataset]:
    """The data=generated stage of a run: its documents -> the generated Dataset (cached)."""

    def generate(corpus: tuple[Document, ...]) -> Dataset:
        ident = identity(corpus, run.datagen, run.model, run.quant, run.data.seed)
        make = backend_factory(run.datagen, run.model, run.quant, cache, run.seed)
        entry, hit = build(corpus, run.datagen, make, cache, ident, progress)
        log.info("datagen: %s set %s (%s)", run.datagen.backend, entry.name,
                 "cached" if hit else "generated")  # fmt: skip
        return load(entry, corpus)

    return generate


def load(entry: Path, corpus: tuple[Document, ...]) -> Dataset:
    return outputs.read_dataset(entry, corpus)


def run(corpus, cfg: DatagenConfig, backend, journal: Journal, seed: int, progress: bool = True):
    """The stage itself: (train records, eval records, stats)."""
    from ragft.retrieval.chunking import chunk_documents

    t0 = time.perf_counter()
    chunks = chunk_documents(corpus, cfg.chunk_words, 0)[: cfg.max_chunks]
    sources = {c.id: c.text for c in chunks}
    dropped: Counter = Counter()
    asker = pipeline.Asker(backend, journal, progress) if backend is not None else None
    if asker is None:
        raw = pipeline.extractive_records(chunks, corpus)
    else:
        raw = pipeline.llm_records(chunks, cfg, asker, dropped)
    records, d = filters.apply(raw, sources, cfg.max_answer_words, cfg.grounding)
    dropped += d
    embed = _embedder(cfg)
    if cfg.near_duplicate is not None and records:
        gone = set(
            filters.near_duplicates(embed([r.question for r in records]), cfg.near_duplicate)
        )
        dropped["near_duplicate"] += len(gone)
        records = [r for i, r in enumerate(records) if i not in gone]
    if cfg.split == "by_question":
        train, held = splits.by_question(records, seed, hold_singletons=cfg.paraphrases > 0)
    else:
        train, held = splits.by_document(records, [d.id for d in corpus], cfg.eval_fraction, seed)
    trained_facts = {r.fact for r in train}
    singles = [r for r in held if r.fact not in trained_facts and cfg.split == "by_question"]
    extra = pipeline.paraphrase(train + singles, cfg.paraphrases, cfg, asker, dropped)
    train, d = filters.apply(train + extra, sources, cfg.max_answer_words, cfg.grounding)
    dropped += d
    train, held, d = splits.leak_check(train, held, embed, cfg.leak_threshold)
    dropped += d
    if not held:
        raise DataError(
            f"generation gave no eval questions from {len(corpus)} documents ({len(chunks)} "
            f"chunks, {len(raw)} raw records; dropped: {dict(dropped) or 'none'}); give longer "
            "documents, more chunks (datagen.max_chunks) or another datagen.backend"
        )
    usage = asker.usage if asker is not None else pipeline.Usage()
    stats = {
        "backend": cfg.backend,
        "documents": len(corpus),
        "chunks": len(chunks),
        "raw_records": len(raw),
        "facts": len({r.fact for r in train + held}),
        "split": cfg.split,
        "dropped": {k: dropped[k] for k in filters.REASONS if dropped[k]},
        "cost": {
            "requests": usage.requests,
            "requests_resumed": usage.requests_resumed,
            "tokens_in": usage.tokens_in,
            "tokens_out": usage.tokens_out,
            "request_seconds": round(usage.seconds, 3),
            "total_seconds": round(time.perf_counter() - t0, 3),
            "estimated_price": usage.price(cfg.price_per_1k_input, cfg.price_per_1k_output),
        },
    }
    return train, held, stats


def _embedder(cfg: DatagenConfig) -> Callable[[list[str]], np.ndarray]:
    """The near-duplicate and leak-check embedder, loaded on first use."""
    from ragft.retrieval.dense import text_embedder

    return text_embedder(cfg.embedder)


__all__ = ["Record", "build", "identity", "load", "run"]
