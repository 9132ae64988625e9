"""The small frozen records that stages pass to each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One corpus document."""

    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class QAExample:
    """A question with its gold answers.

    `gold_doc_ids` are the documents that hold the answer, when known (enables recall@k, MRR).
    `fact_id` groups the phrasings of one fact; `phrasing` says which kind this one is:
    "train" (a training paraphrase), "seen" (a training phrasing asked again at eval),
    "heldout" (a phrasing never trained on) or "" for user data.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    gold_doc_ids: tuple[str, ...] = ()
    fact_id: str = ""
    phrasing: str = ""


@dataclass(frozen=True)
class Dataset:
    """A corpus plus train and eval questions."""

    corpus: tuple[Document, ...]
    train: tuple[QAExample, ...]
    eval: tuple[QAExample, ...]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, the unit the retrievers index."""

    id: str
    doc_id: str
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score (higher is better) and 1-based rank."""

    chunk_id: str
    doc_id: str
    text: str
    score: float
    rank: int


@dataclass(frozen=True)
class Prediction:
    """The model's answer to one eval example, with what it saw."""

    example: QAExample
    prompt: str
    answer: str
    passages: tuple[Passage, ...] = ()  # as retrieved (retrieval metrics read these)
    new_tokens: int = 0
    cut_passages: int = 0  # passages dropped or cut to fit model.max_input_tokens
