"""Train / eval splits of generated records that measure what the study needs (pure).

- `by_question`: for every fact asked more than once, one question (seeded choice) is held
  out for eval and the others train; a fact asked once only trains, unless paraphrases are
  coming: then it is held out and its paraphrases train. Then the leak check: an
  eval question whose embedding cosine with any training question is at least `threshold`
  is swapped with another question of its fact that is not that close (`leak_moved`), or,
  when none is, dropped from eval and trained on (`leak_dropped`).
- `by_document`: a seeded `eval_fraction` of the documents (at least one, never all) gives
  the eval questions (one per fact), the others the training ones: fine-tuning cannot help
  on documents training never saw, so this is the control.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ragft.datagen.prompts import Record
from ragft.metrics import f1

Embed = Callable[[list[str]], np.ndarray]  # L2-normalised rows


def _facts(records: Sequence[Record]) -> dict[str, list[Record]]:
    facts: dict[str, list[Record]] = {}
    for r in records:
        facts.setdefault(r.fact, []).append(r)
    return facts


def by_question(
    records: Sequence[Record], seed: int, hold_singletons: bool = False
) -> tuple[list[Record], list[Record]]:
    """`hold_singletons`: a fact asked once is held out too (its paraphrases will train)."""
    rng = random.Random(seed)
    train: list[Record] = []
    held: list[Record] = []
    for _, group in sorted(_facts(records).items()):
        if len(group) < 2:
            (held if hold_singletons else train).extend(group)
            continue
        pick = rng.randrange(len(group))
        held.append(group[pick])
        train += [r for i, r in enumerate(group) if i != pick]
    return train, held


def by_document(
    records: Sequence[Record], doc_ids: Sequence[str], eval_fraction: float, seed: int
) -> tuple[list[Record], list[Record]]:
    docs = sorted(set(doc_ids))
    n_eval = min(max(1, round(eval_fraction * len(docs))), max(1, len(docs) - 1))
    eval_docs = set(random.Random(seed).sample(docs, n_eval))
    train = [r for r in records if r.doc_id not in eval_docs]
    held = [group[0] for _, group in sorted(_facts(records).items())
            if group[0].doc_id in eval_docs]  # fmt: skip
    return train, held


def leak_check(
    train: list[Record], held: list[Record], embed: Embed, threshold: float
) -> tuple[list[Record], list[Record], Counter]:
    """No eval question within `threshold` cosine of a training question with its answer.

    A close training question with another answer is no leak: learning it teaches a
    different answer, not this one.
    """
    counts: Counter = Counter()
    if not train or not held:
        return train, held, counts
    questions = sorted({r.question for r in train} | {r.question for r in held})
    vectors = dict(zip(questions, embed(questions), strict=True))
    train, out = list(train), []
    for r in held:
        chosen = _leak_free(r, train, vectors, threshold)
        if chosen is r:
            out.append(r)
            continue
        if chosen is None:
            counts["leak_dropped"] += 1
            train.append(r)
            continue
        counts["leak_moved"] += 1
        train.remove(chosen)
        train.append(r)
        out.append(chosen)
    return train, out, counts


def _leak_free(held: Record, train: list[Record], vectors: dict, threshold: float):
    """`held` if no training question is that close, else a sibling that is, else None."""
    siblings = [t for t in train if t.fact == held.fact]
    for candidate in [held, *siblings]:
        rest = [t for t in train if t is not candidate] + ([held] if candidate is not held else [])
        rest = [
            t for t in rest if t.fact == candidate.fact or f1(t.output, [candidate.output]) > 0.5
        ]
        if not rest:
            return candidate
        matrix = np.stack([vectors[t.question] for t in rest])
        if float(np.max(matrix @ vectors[candidate.question])) < threshold:
            return candidate
    return None
