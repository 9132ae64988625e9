"""The two-step generation of the seed study, through any backend and a request journal.

Step 1 asks, per chunk, which instruction types suit it; step 2 asks, per (chunk, type), for
`per_type` records `{instruction, input, output}`. Paraphrasing asks for K rewordings of
each training question. Replies that do not satisfy their schema are counted
(`schema_invalid`) and never become records. Every request goes through the journal, so a
re-run after a kill sends only what was not answered yet.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ragft.config import DatagenConfig
from ragft.datagen import extractive, prompts
from ragft.datagen.prompts import Record
from ragft.llm import Backend, Reply, Request
from ragft.llm.journal import Journal
from ragft.metrics import normalize_answer
from ragft.progress import bar as progress_bar
from ragft.types import Chunk, Document


@dataclass
class Usage:
    """What generation cost: requests (sent now / answered from the journal), tokens, time."""

    requests: int = 0
    requests_resumed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def price(self, per_1k_in: float | None, per_1k_out: float | None) -> float | None:
        if per_1k_in is None and per_1k_out is None:
            return None
        return round(
            self.tokens_in / 1000 * (per_1k_in or 0) + self.tokens_out / 1000 * (per_1k_out or 0),
            6,
        )


class Asker:
    """Sends requests through the journal, with a progress bar, counting usage."""

    def __init__(self, backend: Backend | None, journal: Journal, progress: bool):
        self.backend, self.journal, self.progress = backend, journal, progress
        self.usage = Usage()

    def ask(self, step: str, requests: Sequence[Request]) -> list[Reply]:
        if not requests:
            return []
        t0 = time.perf_counter()
        bar = progress_bar(len(requests), f"datagen {step}", "req", disable=not self.progress)
        replies, sent, resumed = self.journal.complete(
            self.backend, requests, lambda i, r: bar.update(1)
        )
        bar.close()
        u = self.usage
        u.requests += sent
        u.requests_resumed += resumed
        u.tokens_in += sum(r.tokens_in for r in replies)
        u.tokens_out += sum(r.tokens_out for r in replies)
        u.seconds += time.perf_counter() - t0
        return replies


def llm_records(
    chunks: Sequence[Chunk], cfg: DatagenConfig, asker: Asker, dropped: Counter
) -> list[Record]:
    """Step 1 then step 2 for every chunk; schema-invalid replies counted in `dropped`."""
    types = dict(cfg.types)
    picks = asker.ask(
        "types", [prompts.types_request(c.text, types, cfg.max_types) for c in chunks]
    )
    jobs: list[tuple[Chunk, str]] = []
    for chunk, reply in zip(chunks, picks, strict=True):
        if reply.data is None:
            dropped["schema_invalid"] += 1
            continue
        jobs += [(chunk, t) for t in reply.data["types"] if t in types]
    requests = [
        prompts.records_request(c.text, t, types[t], cfg.per_type, cfg.max_field_chars)
        for c, t in jobs
    ]
    records: list[Record] = []
    for (chunk, type_name), reply in zip(jobs, asker.ask("records", requests), strict=True):
        if reply.data is None:
            dropped["schema_invalid"] += 1
            continue
        for row in reply.data["records"]:
            answer = normalize_answer(row["output"])
            records.append(Record(
                instruction=row["instruction"].strip(), input=row["input"].strip(),
                output=row["output"].strip(), type=type_name, doc_id=chunk.doc_id,
                chunk_id=chunk.id, fact=f"{chunk.id}:{answer}",
            ))  # fmt: skip
    return records


def extractive_records(chunks: Sequence[Chunk], corpus: Sequence[Document]) -> list[Record]:
    subjects = {d.id: extractive.document_subject(d.text, d.title) for d in corpus}
    titles = {d.id: d.title for d in corpus}
    return [
        r for c in chunks for r in extractive.questions(c, subjects[c.doc_id], titles[c.doc_id])
    ]


def paraphrase(
    train: Sequence[Record], k: int, cfg: DatagenConfig, asker: Asker | None, dropped: Counter
) -> list[Record]:
    """K rewordings of each training question, as records of the same fact."""
    if k <= 0 or not train:
        return []
    if asker is None:  # extractive: templates
        texts = [extractive.paraphrases(r.question, k) for r in train]
    else:
        requests = [prompts.paraphrase_request(r.question, k, cfg.max_field_chars) for r in train]
        texts = []
        for reply in asker.ask("paraphrase", requests):
            if reply.data is None:
                dropped["schema_invalid"] += 1
                texts.append([])
            else:
                texts.append([p.strip() for p in reply.data["paraphrases"]])
    return [
        replace(r, instruction=p, input="", type=f"{r.type}/paraphrase")
        for r, ps in zip(train, texts, strict=True)
        for p in ps
        if p and normalize_answer(p) != normalize_answer(r.question)
    ]
