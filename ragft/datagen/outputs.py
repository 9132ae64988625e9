"""A generated set's files: qa.jsonl (data=qa-jsonl reads it), alpaca.jsonl (the seed's
format, data=alpaca-jsonl reads it), generation_report.md and stats.json; and the Dataset
read back from qa.jsonl."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ragft.data.jsonl import read_jsonl
from ragft.datagen.prompts import Record
from ragft.files import atomic_write_text
from ragft.types import Dataset, Document, QAExample

SAMPLES = 3  # records shown per type in the report


def _rows(train: Sequence[Record], held: Sequence[Record]) -> list[tuple[str, str, Record]]:
    out = [(f"t{i:05d}", "train", r) for i, r in enumerate(train)]
    return out + [(f"e{i:05d}", "eval", r) for i, r in enumerate(held)]


def write(folder: Path, train: Sequence[Record], held: Sequence[Record], stats: dict) -> None:
    qa, alpaca = [], []
    for id_, split, r in _rows(train, held):
        where = {"gold_doc_ids": [r.doc_id], "split": split, "type": r.type,
                 "fact_id": r.fact, "chunk_id": r.chunk_id}  # fmt: skip
        qa.append({"id": id_, "question": r.question, "answers": [r.output], **where})
        alpaca.append({"id": id_, "instruction": r.instruction, "input": r.input,
                       "output": r.output, **where})  # fmt: skip
    atomic_write_text(folder / "qa.jsonl", "".join(json.dumps(q) + "\n" for q in qa))
    atomic_write_text(folder / "alpaca.jsonl", "".join(json.dumps(a) + "\n" for a in alpaca))
    atomic_write_text(folder / "stats.json", json.dumps(stats, indent=1, sort_keys=True) + "\n")
    atomic_write_text(folder / "generation_report.md", report(train, held, stats))


def report(train: Sequence[Record], held: Sequence[Record], stats: dict[str, Any]) -> str:
    """Counts per type and split, drops per filter, cost, and sample records per type."""
    split_of = [("train", r) for r in train] + [("eval", r) for r in held]
    counts = pd.DataFrame(
        [{"type": r.type, "split": s} for s, r in split_of], columns=["type", "split"]
    )
    table = (
        counts.value_counts().unstack(fill_value=0).reindex(columns=["train", "eval"], fill_value=0)
        if len(counts)
        else pd.DataFrame(columns=["train", "eval"])
    )
    dropped = pd.Series(stats["dropped"], name="dropped", dtype="int64")
    cost = pd.Series({k: v for k, v in stats["cost"].items() if v is not None}, name="value")
    lines = [
        "# Generated QA set",
        "",
        f"Backend: `{stats['backend']}`; {stats['documents']} documents, {stats['chunks']} "
        f"chunks; split `{stats['split']}`: {len(train)} train and {len(held)} eval records "
        f"({stats['facts']} facts).",
        "",
        "## Records per type",
        "",
        table.to_markdown(),
        "",
        "## Dropped, per filter",
        "",
        dropped.to_frame().to_markdown() if len(dropped) else "Nothing was dropped.",
        "",
        "## Cost",
        "",
        cost.to_frame().to_markdown(),
        "",
        "## Samples",
        "",
    ]
    shown: Counter = Counter()
    for split, r in split_of:
        if shown[r.type] >= SAMPLES:
            continue
        shown[r.type] += 1
        lines += [f"- **{r.type}** ({split}, `{r.chunk_id}`): {r.question!r} -> {r.output!r}"]
    return "\n".join(lines) + "\n"


def read_dataset(folder: Path, corpus: tuple[Document, ...]) -> Dataset:
    """The Dataset of a generated set: generated questions train or hold out their fact."""
    train, held = [], []
    for _, row in read_jsonl(folder / "qa.jsonl"):
        ex = QAExample(
            id=row["id"],
            question=row["question"],
            answers=tuple(row["answers"]),
            gold_doc_ids=tuple(row["gold_doc_ids"]),
            fact_id=row["fact_id"],
            phrasing="train" if row["split"] == "train" else "heldout",
        )
        (train if row["split"] == "train" else held).append(ex)
    return Dataset(corpus=corpus, train=tuple(train), eval=tuple(held))
