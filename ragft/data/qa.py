"""The user's own questions: QA JSONL and Alpaca-style instruction JSONL."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

from ragft.data.corpus import load_corpus
from ragft.data.jsonl import IdRegistry, get_id, get_str, get_str_list, read_jsonl
from ragft.errors import DataError
from ragft.types import Dataset, Document, QAExample

log = logging.getLogger(__name__)

SPLITS = ("train", "eval")

# One parsed row: (line number, example, split or None).
_Row = tuple[int, QAExample, str | None]


def load_qa_jsonl(
    path: str | Path, corpus_path: str | Path | None, eval_fraction: float, seed: int
) -> Dataset:
    """Load rows {"id", "question", "answers": [...], "gold_doc_ids"?, "split"?}.

    `"answers": []` marks an unanswerable question (SQuAD 2.0's convert directly).

    Without any "split" field, a seeded shuffle holds out round(eval_fraction * n) rows
    (at least one) for eval; file order is kept inside each split.
    """
    return _load(path, corpus_path, eval_fraction, seed, _qa_example)


def load_alpaca_jsonl(
    path: str | Path, corpus_path: str | Path | None, eval_fraction: float, seed: int
) -> Dataset:
    """Load rows {"instruction", "input"?, "output"} (+ "id"?, "split"?, "gold_doc_ids"?).

    The question is the instruction, plus a blank line and the input when it is non-empty;
    the one gold answer is the output.
    """
    return _load(path, corpus_path, eval_fraction, seed, _alpaca_example)


def _qa_example(row: dict, where: str, id_: str) -> QAExample:
    if "answers" not in row and "answer" in row:
        raise DataError(
            f"{where}: field 'answers' is missing (expected a list of strings; "
            "found 'answer': rename it to 'answers' and make it a list)"
        )
    return QAExample(
        id=id_,
        question=get_str(row, "question", where),
        answers=get_str_list(row, "answers", where, empty_ok=True),  # []: unanswerable
        gold_doc_ids=get_str_list(row, "gold_doc_ids", where, required=False),
    )


def _alpaca_example(row: dict, where: str, id_: str) -> QAExample:
    instruction = get_str(row, "instruction", where)
    extra = row.get("input")
    if extra is not None and not isinstance(extra, str):
        raise DataError(f"{where}: field 'input' is not a string (expected a string, may be \"\")")
    question = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
    return QAExample(
        id=id_,
        question=question,
        answers=(get_str(row, "output", where),),
        gold_doc_ids=get_str_list(row, "gold_doc_ids", where, required=False),
    )


def _load(
    path: str | Path,
    corpus_path: str | Path | None,
    eval_fraction: float,
    seed: int,
    make: Callable[[dict, str, str], QAExample],
) -> Dataset:
    ids = IdRegistry(path)
    rows: list[_Row] = []
    for line, obj in read_jsonl(path):
        where = f"{path}:{line}"
        example = make(obj, where, get_id(obj, where, default=f"line{line}"))
        ids.add(example.id, line)
        split = obj.get("split")
        if split is not None and split not in SPLITS:
            raise DataError(f"{where}: field 'split' is {split!r} (expected 'train' or 'eval')")
        rows.append((line, example, split))

    train, eval_ = _split(path, rows, eval_fraction, seed)
    corpus = load_corpus(corpus_path) if corpus_path else ()
    if corpus:
        _warn_unknown_gold(path, corpus, train + eval_)
    log.info("%s: %d train, %d eval examples", path, len(train), len(eval_))
    return Dataset(corpus=corpus, train=train, eval=eval_)


def _split(
    path: str | Path, rows: list[_Row], eval_fraction: float, seed: int
) -> tuple[tuple[QAExample, ...], tuple[QAExample, ...]]:
    if any(split is not None for _, _, split in rows):
        for line, _, split in rows:
            if split is None:
                raise DataError(
                    f"{path}:{line}: field 'split' is missing (expected 'train' or 'eval': "
                    "other rows have one, so every row needs one)"
                )
        train = tuple(ex for _, ex, split in rows if split == "train")
        eval_ = tuple(ex for _, ex, split in rows if split == "eval")
        if not eval_:
            raise DataError(f'{path}: no row has "split": "eval", so there is nothing to score')
        return train, eval_
    n = len(rows)
    n_eval = min(n, max(1, round(eval_fraction * n)))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[:n_eval])
    train = tuple(ex for i, (_, ex, _) in enumerate(rows) if i not in held)
    eval_ = tuple(ex for i, (_, ex, _) in enumerate(rows) if i in held)
    return train, eval_


def _warn_unknown_gold(
    path: str | Path, corpus: tuple[Document, ...], examples: tuple[QAExample, ...]
) -> None:
    known = {d.id for d in corpus}
    unknown = sorted({g for ex in examples for g in ex.gold_doc_ids if g not in known})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        log.warning(
            "%s: %d gold_doc_ids are not in the corpus: %s%s (recall@k and MRR cannot find them)",
            path,
            len(unknown),
            shown,
            more,
        )
