"""What the model is trained on: (prompt, completion) pairs, built by pure functions.

Training prompts are rendered with exactly the functions that build evaluation prompts
(`PromptBuilder.message` + `PromptBuilder.render`, in the cell's prompt template), so a
fine-tuned model is asked at eval in the words it was trained on.
The loss covers the completion only.

Objectives: `qa` (the training phrasings of the questions, answered), `cpt` (continued
pre-training on the corpus documents: no prompt, loss on every token) and `qa+cpt`.
RAFT (Zhang et al., 2024) trains `qa` pairs whose prompts carry retrieved passages: the gold
passage plus distractors in a share P of the examples, distractors only in the rest, so the
model learns both to read the context and to answer without it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragft.metrics import normalize_answer
from ragft.prompting import PromptBuilder, user_message
from ragft.types import Chunk, Dataset, Document, Passage, QAExample

if TYPE_CHECKING:
    from ragft.config import ApproachConfig
    from ragft.retrieval import Retriever


@dataclass(frozen=True)
class TrainPair:
    """One supervised example: the loss is taken on `completion` only."""

    id: str
    prompt: str  # rendered prompt text (chat template applied), "" for cpt
    completion: str  # target text, ending with the end-of-turn marker
    has_gold: bool | None = None  # RAFT: whether the gold passage is in the prompt


def build_pairs(
    dataset: Dataset,
    prompts: PromptBuilder,
    objective: str,
    approach: ApproachConfig,
    retriever: Retriever | None,
    candidates: int,
    seed: int,
) -> list[TrainPair]:
    """The supervised pairs for `objective` (qa, cpt or qa+cpt), with RAFT contexts when
    the approach trains with retrieved passages (`candidates` hits searched per question)."""
    pairs = []
    if objective in ("qa", "qa+cpt"):
        contexts = flags = None
        if approach.trains_with_context:
            if retriever is None:
                raise ValueError(f"approach={approach.name} trains on retrieved passages")
            questions = [ex.question for ex in dataset.train]
            hits = retriever.search(questions, max(candidates, approach.raft_distractors + 1))
            contexts, flags = raft_contexts(
                dataset.train,
                hits,
                retriever.chunks,
                approach.raft_gold_share,
                approach.raft_distractors,
                seed,
            )
        pairs += qa_pairs(
            dataset.train, prompts.render, prompts.complete, contexts, flags,
            message=prompts.message, abstain_answer=prompts.abstain_answer if
            prompts.template.abstain else None,
        )  # fmt: skip
    if objective in ("cpt", "qa+cpt"):
        pairs += cpt_pairs(dataset.corpus, prompts.end_of_text)
    return pairs


def qa_pairs(
    examples: Sequence[QAExample],
    render: Callable[[str], str],
    complete: Callable[[str, str], str],
    contexts: Sequence[Sequence[Passage]] | None = None,
    has_gold: Sequence[bool] | None = None,
    message: Callable[[str, Sequence[Passage] | None], str] = user_message,
    abstain_answer: str | None = None,
) -> list[TrainPair]:
    """Question -> first gold answer; with `contexts`, the passages go into the prompt.

    `message(question, passages)` gives the user turn, `render(message)` the prompt text and
    `complete(message, answer)` the target text (see `prompting`). An unanswerable question
    (no gold answer) is taught `abstain_answer` ("I don't know") when the prompt asks the
    model to abstain, and left out of training otherwise.
    """
    pairs = []
    for i, ex in enumerate(examples):
        target = ex.answers[0] if ex.answers else abstain_answer
        if not target:
            continue
        text = message(ex.question, contexts[i] if contexts is not None else None)
        pairs.append(
            TrainPair(
                id=ex.id,
                prompt=render(text),
                completion=complete(text, target),
                has_gold=has_gold[i] if has_gold is not None else None,
            )
        )
    return pairs


def cpt_pairs(corpus: Sequence[Document], end: str) -> list[TrainPair]:
    """Continued pre-training: each document's text is a completion with no prompt."""
    return [TrainPair(id=f"cpt/{d.id}", prompt="", completion=d.text.strip() + end) for d in corpus]


def raft_contexts(
    examples: Sequence[QAExample],
    hits: Sequence[Sequence[Passage]],
    chunks: Sequence[Chunk],
    gold_share: float,
    n_distractors: int,
    seed: int,
) -> tuple[list[list[Passage]], list[bool]]:
    """RAFT prompts' passages: per example, the gold passage (in a share `gold_share` of the
    examples, chosen by a seeded draw) plus `n_distractors` retrieved non-gold passages
    (hard negatives, best-ranked first), in a seeded random order.

    The gold passage is the chunk of a gold document that contains the answer (else the
    document's best-ranked chunk). Examples without gold document ids keep the top
    retrieved passages as they are.
    """
    rng = random.Random(seed)
    n_gold = round(gold_share * len(examples))
    with_gold = set(rng.sample(range(len(examples)), n_gold))
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)

    contexts, flags = [], []
    for i, (ex, found) in enumerate(zip(examples, hits, strict=True)):
        if not ex.gold_doc_ids:
            contexts.append(list(found[: n_distractors + 1]))
            flags.append(False)
            continue
        gold = set(ex.gold_doc_ids)
        distractors = [p for p in found if p.doc_id not in gold][:n_distractors]
        chosen = list(distractors)
        if i in with_gold:
            chosen.append(_gold_passage(ex, found, by_doc))
        rng.shuffle(chosen)
        contexts.append(chosen)
        flags.append(i in with_gold)
    return contexts, flags


def _gold_passage(ex: QAExample, found: Sequence[Passage], by_doc: dict[str, list[Chunk]]):
    answers = [normalize_answer(a) for a in ex.answers]
    candidates = [c for d in ex.gold_doc_ids for c in by_doc.get(d, [])]
    for c in candidates:
        text = normalize_answer(c.text)
        if any(a and a in text for a in answers):
            return Passage(chunk_id=c.id, doc_id=c.doc_id, text=c.text, score=0.0, rank=0)
    for p in found:
        if p.doc_id in ex.gold_doc_ids:
            return p
    if candidates:
        c = candidates[0]
        return Passage(chunk_id=c.id, doc_id=c.doc_id, text=c.text, score=0.0, rank=0)
    raise ValueError(f"example {ex.id}: none of its gold documents {ex.gold_doc_ids} is indexed")
