"""Rules for what a cell reads and scores: retriever (+ embedder), data, metrics."""

from __future__ import annotations

import re
from pathlib import Path

from ragft.approaches import RETRIEVAL, Approach
from ragft.config import (
    ANSWER_METRICS,
    DATA_NAMES,
    EVAL_SPLITS,
    EVALUATE_ON,
    METRICS_NAMES,
    RETRIEVAL_METRICS,
    RETRIEVER_NAMES,
    RunConfig,
)
from ragft.validation.checks import (
    Problems,
    check,
    looks_local,
    one_of,
    package_problems,
    positive,
    seed_range,
    uses_kind,
)

EMBEDDER_DEVICES = ("auto", "cpu", "cuda", "mps")
USER_DATA = ("qa-jsonl", "alpaca-jsonl")  # the data options that read data.path


def retriever_rule(run: RunConfig, approach: Approach | None) -> Problems:
    r = run.retriever
    p = one_of("retriever", r.name, RETRIEVER_NAMES)
    if approach is not None and approach.retrieves and r.name == "none":
        p.append(
            f"approach={approach.name} retrieves at eval but retriever=none; "
            "choose retriever=bm25, dense or hybrid (or approach=base / finetune)"
        )
    p += positive("retriever.k", r.k, "a positive integer")
    p += positive("retriever.chunk_size", r.chunk_size)
    if not 0 <= r.chunk_overlap < max(r.chunk_size, 1):
        p.append(
            f"retriever.chunk_overlap={r.chunk_overlap} must be >= 0 and smaller than "
            f"retriever.chunk_size={r.chunk_size}"
        )
    if r.candidates < r.k:
        p.append(f"retriever.candidates={r.candidates} must be >= retriever.k={r.k}")
    p += check(r.rrf_k >= 0, "retriever.rrf_k", r.rrf_k, ">= 0")
    p += positive("retriever.nprobe", r.nprobe, "a positive integer")
    p += check(
        bool(r.index_factory.strip()),
        "retriever.index_factory",
        r.index_factory,
        'a faiss index_factory string, e.g. "Flat", "HNSW32", "IVF64,Flat"',
    )
    p += embedder_rule(run, approach)
    return p


def embedder_rule(run: RunConfig, approach: Approach | None) -> Problems:
    e = run.retriever.embedder
    p = positive("retriever.embedder.batch_size", e.batch_size, "a positive integer")
    if e.device not in EMBEDDER_DEVICES and not re.fullmatch(r"cuda:\d+", e.device):
        p.append(
            f"retriever.embedder.device={e.device!r} is not allowed; choose one of: "
            f"{', '.join(EMBEDDER_DEVICES)} (or cuda:N)"
        )
    if run.retriever.name not in ("dense", "hybrid") or not uses_kind(approach, RETRIEVAL):
        return p  # no embedder is loaded: where it lives does not matter here
    if e.path:
        local = Path(e.path).expanduser()
        if (looks_local(e.path) or local.exists()) and not local.is_dir():
            what = "is a file" if local.exists() else "no such folder"
            p.append(
                f"retriever.embedder.path={e.path!r}: {what}; give a sentence-transformers "
                "folder (modules.json + weights) or a hub id"
            )
        elif local.is_dir() and not (local / "modules.json").is_file():
            p.append(
                f"retriever.embedder.path={e.path!r} holds no modules.json; give a "
                "sentence-transformers folder (modules.json + weights) or a hub id"
            )
    elif not e.package:
        p.append("retriever.embedder.package and retriever.embedder.path are both null; set one")
    else:
        p += package_problems("retriever.embedder.package", e.package)
    return p


def data_rule(run: RunConfig, approach: Approach | None) -> Problems:
    d = run.data
    p = one_of("data", d.name, DATA_NAMES)
    p += one_of("data.eval_split", d.eval_split, EVAL_SPLITS)
    p += one_of("data.evaluate_on", d.evaluate_on, EVALUATE_ON)
    p += check(0.0 < d.validation_fraction < 1.0, "data.validation_fraction",
               d.validation_fraction, "in (0, 1)")  # fmt: skip
    p += seed_range("data.seed", d.seed)
    if d.name in USER_DATA:
        if not d.path:
            p.append(f"data={d.name} needs data.path=<a .jsonl file>")
        else:
            p += _file_problems("data.path", d.path)
        if d.corpus_path:
            p += _corpus_problems(d.corpus_path)
        elif approach is not None and approach.retrieves:
            p.append(f"approach={approach.name} with data={d.name} needs data.corpus_path")
    if d.name == "generated":
        if not d.corpus_path:
            p.append("data=generated needs data.corpus_path=<a folder of documents or a .jsonl>")
        else:
            p += _corpus_problems(d.corpus_path)
    if d.name == "fictional-kb":
        p += check(d.n_entities >= 2, "data.n_entities", d.n_entities, ">= 2")
        p += check(
            1 <= d.n_train_phrasings <= 6,
            "data.n_train_phrasings",
            d.n_train_phrasings,
            "between 1 and 6",
        )
    p += check(0.0 < d.eval_fraction <= 1.0, "data.eval_fraction", d.eval_fraction, "in (0, 1]")
    if d.max_eval is not None and d.max_eval <= 0:
        p.append(f"data.max_eval={d.max_eval} must be positive (or null for all)")
    return p


def _file_problems(key: str, path: str) -> Problems:
    p = Path(path).expanduser()
    if p.is_file():
        return []
    if p.is_dir():
        return [f"{key}={path!r} is a folder, expected a .jsonl file"]
    return [f"{key}={path!r}: no such file; give an existing .jsonl file"]


def _corpus_problems(path: str) -> Problems:
    p = Path(path).expanduser()
    if p.is_dir() or (p.is_file() and p.suffix.lower() == ".jsonl"):
        return []
    if p.exists():
        return [
            f"data.corpus_path={path!r} is neither a folder of .txt/.md files nor a .jsonl file"
        ]
    return [
        f"data.corpus_path={path!r}: no such file or folder; give a folder of .txt/.md files "
        'or a .jsonl file of {"id", "text"} rows'
    ]


# scores beside the string metrics that a sweep may optimise (ragft/evaluation.py)
PRIMARY_EXTRA = ("semantic", "judge", "faithfulness", "accuracy", "crag")


def metrics_rule(run: RunConfig, approach: Approach | None) -> Problems:
    m = run.metrics
    p = one_of("metrics", m.name, METRICS_NAMES)
    if not m.answer:
        p.append(f"metrics.answer=[] must name at least one of: {', '.join(ANSWER_METRICS)}")
    for name in m.answer:
        p += one_of("metrics.answer", name, ANSWER_METRICS)
    known = (*ANSWER_METRICS, *RETRIEVAL_METRICS, *PRIMARY_EXTRA)
    if m.primary not in known:
        p += one_of("metrics.primary", m.primary, known)
    elif m.primary in ANSWER_METRICS and m.primary not in m.answer:
        given = [name for name in m.answer if name in ANSWER_METRICS]
        p.append(
            f"metrics.primary={m.primary!r} is not scored: it is not in "
            f"metrics.answer={list(m.answer)}; choose one of: "
            f"{', '.join([*given, *RETRIEVAL_METRICS])}, or add it to metrics.answer"
        )
    return p
