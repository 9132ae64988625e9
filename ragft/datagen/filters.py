"""The quality filters a generated record must pass (pure); every drop is counted by reason.

- `empty`: a blank instruction or output;
- `answer_too_long`: an output of more than `max_answer_words` words;
- `question_contains_answer`: the normalised output appears in the normalised question;
- `not_grounded`: an extractive output that is not a span of its chunk, or a free output
  fewer than `grounding` of whose words occur in its chunk;
- `duplicate`: the same normalised question (and answer) as an earlier record;
- `near_duplicate`: an embedding cosine of at least `near_duplicate` with an earlier kept
  question (`near_duplicates`, given the embeddings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from ragft.datagen.prompts import Record
from ragft.metrics import normalize_answer

REASONS = (
    "schema_invalid", "empty", "answer_too_long", "question_contains_answer", "not_grounded",
    "duplicate", "near_duplicate", "leak_moved", "leak_dropped",
)  # fmt: skip


def grounding_share(answer: str, source: str) -> float:
    """The share of the answer's normalised words that occur in the source's."""
    words = normalize_answer(answer).split()
    if not words:
        return 0.0
    seen = set(normalize_answer(source).split())
    return sum(w in seen for w in words) / len(words)


def drop_reason(record: Record, source: str, max_answer_words: int, grounding: float) -> str | None:
    """Why `record` fails a filter (the first one it fails), or None if it passes."""
    answer = normalize_answer(record.output)
    if not record.instruction.strip() or not answer:
        return "empty"
    if len(record.output.split()) > max_answer_words:
        return "answer_too_long"
    if f" {answer} " in f" {normalize_answer(record.question)} ":
        return "question_contains_answer"
    if record.extractive:
        if f" {answer} " not in f" {normalize_answer(source)} ":
            return "not_grounded"
    elif grounding_share(record.output, source) < grounding:
        return "not_grounded"
    return None


def apply(
    records: Sequence[Record],
    sources: Mapping[str, str],
    max_answer_words: int,
    grounding: float,
) -> tuple[list[Record], Counter]:
    """The records that pass every per-record filter and are not exact duplicates."""
    kept: list[Record] = []
    dropped: Counter = Counter()
    seen: set[tuple[str, str]] = set()
    for r in records:
        reason = drop_reason(r, sources[r.chunk_id], max_answer_words, grounding)
        key = (normalize_answer(r.question), normalize_answer(r.output))
        if reason is None and key in seen:
            reason = "duplicate"
        if reason is not None:
            dropped[reason] += 1
            continue
        seen.add(key)
        kept.append(r)
    return kept, dropped


def near_duplicates(embeddings: np.ndarray, threshold: float) -> list[int]:
    """Indices to drop: each row whose cosine with an earlier *kept* row is >= threshold.

    `embeddings` are L2-normalised rows (sentence-transformers' normalize_embeddings).
    """
    dropped: list[int] = []
    kept: list[int] = []
    for i in range(len(embeddings)):
        if kept and float(np.max(embeddings[kept] @ embeddings[i])) >= threshold:
            dropped.append(i)
        else:
            kept.append(i)
    return dropped
