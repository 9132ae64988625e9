"""The data stage: `load(cfg.data)` gives a Dataset (corpus + train and eval questions)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from ragft.config import ApproachConfig, DataConfig
from ragft.data import fictional_kb, qa
from ragft.data.corpus import load_corpus
from ragft.data.validation import validation_split
from ragft.errors import ConfigError
from ragft.types import Dataset, Document

log = logging.getLogger(__name__)

# The generation stage for data=generated (`ragft.datagen.stage`): documents -> Dataset.
Generate = Callable[[tuple[Document, ...]], Dataset]


def _fictional_kb(cfg: DataConfig, generate: Generate | None) -> Dataset:
    return fictional_kb.generate(
        cfg.n_entities, cfg.n_train_phrasings, cfg.seed, cfg.eval_split, cfg.n_unanswerable
    )


def _qa_jsonl(cfg: DataConfig, generate: Generate | None) -> Dataset:
    return qa.load_qa_jsonl(cfg.path, cfg.corpus_path, cfg.eval_fraction, cfg.seed)


def _alpaca_jsonl(cfg: DataConfig, generate: Generate | None) -> Dataset:
    return qa.load_alpaca_jsonl(cfg.path, cfg.corpus_path, cfg.eval_fraction, cfg.seed)


def _generated(cfg: DataConfig, generate: Generate | None) -> Dataset:
    if generate is None:
        raise ConfigError([f"data={cfg.name} needs the generation stage (run.py and generate.py "
                           "give it; in code pass ragft.datagen.stage(run, cache))"])  # fmt: skip
    return generate(load_corpus(cfg.corpus_path))


LOADERS: dict[str, Callable[[DataConfig, Generate | None], Dataset]] = {
    "fictional-kb": _fictional_kb,
    "qa-jsonl": _qa_jsonl,
    "alpaca-jsonl": _alpaca_jsonl,
    "generated": _generated,
}


def load(cfg: DataConfig, generate: Generate | None = None) -> Dataset:
    """Build the dataset that `cfg.name` names; keep the first `cfg.max_eval` eval examples.

    With `cfg.evaluate_on == "validation"` the eval set is a seeded share of the training
    questions, held out of training (`validation_split`); the eval questions are not used.

    `cfg` has passed `ragft.validation` (a known name, a path that exists). `generate` is the
    generation stage data=generated calls with the documents.
    """
    ds = LOADERS[cfg.name](cfg, generate)
    if cfg.evaluate_on == "validation":
        ds = validation_split(ds, cfg.validation_fraction, cfg.seed)
    if cfg.max_eval is not None:
        ds = dataclasses.replace(ds, eval=ds.eval[: cfg.max_eval])
    return ds


def check(
    dataset: Dataset,
    data_name: str,
    approach: ApproachConfig,
    objective: str,
    abstain: bool = False,
) -> None:
    """Data problems that only show once the data is loaded: an empty split the cell needs.

    An eval split of unanswerable questions only, asked without `prompt.abstain`, is a
    warning: the model is never told it may say it does not know.
    """
    problems = []
    if not dataset.eval:
        problems.append(f"data={data_name}: the eval split is empty")
    elif not abstain and not any(ex.answers for ex in dataset.eval):
        log.warning(
            'data=%s: every eval question is unanswerable ("answers": []) and '
            "prompt.abstain=false: the model is not told it may say it does not know, so "
            "the scores mean little (set prompt.abstain=true or prompt=abstain)",
            data_name,
        )
    if (approach.retrieves or objective != "qa") and not dataset.corpus:
        problems.append(
            f"approach={approach.name} objective={objective} needs documents; give data.corpus_path"
        )
    if approach.trains and objective != "cpt" and not dataset.train:
        problems.append(
            f"approach={approach.name} trains on the train split, which is empty; add rows "
            'with "split": "train" or lower data.eval_fraction'
        )
    if problems:
        raise ConfigError(problems)


def fingerprint(dataset: Dataset, with_train: bool = True) -> str:
    """A hash of the dataset's documents, questions, answers and splits.

    `with_train=False` leaves the training split out: cells that do not train give the same
    result whatever it holds.
    """
    from ragft.cache import texts_sha256

    parts: list[str] = []
    for d in dataset.corpus:
        parts += ["D", d.id, d.title, d.text]
    splits = (("T", dataset.train), ("E", dataset.eval)) if with_train else (("E", dataset.eval),)
    for split, examples in splits:
        for ex in examples:
            parts += [split, ex.id, ex.question, *ex.answers, "|", *ex.gold_doc_ids, ex.phrasing]
    return texts_sha256(parts)
