"""ragft.data: `check` (empty splits a cell needs), `fingerprint` and the loaders `load` picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragft import data
from ragft.cache import texts_sha256
from ragft.config import ApproachConfig, DataConfig
from ragft.data.qa import load_alpaca_jsonl, load_qa_jsonl
from ragft.errors import ConfigError
from ragft.types import Dataset, Document, QAExample

from ..helpers import write_jsonl

DOC = Document(id="d1", text="Ilsa grew up in Velmora.", title="Ilsa")
EX = QAExample(id="q1", question="Where did Ilsa grow up?", answers=("Velmora",))
FULL = Dataset(corpus=(DOC,), train=(EX,), eval=(EX,))

EMPTY_EVAL = "data=qa-jsonl: the eval split is empty"


def needs_documents(approach: str, objective: str) -> str:
    return f"approach={approach} objective={objective} needs documents; give data.corpus_path"


def needs_train(approach: str) -> str:
    return (
        f"approach={approach} trains on the train split, which is empty; add rows "
        'with "split": "train" or lower data.eval_fraction'
    )


def problems(dataset: Dataset, approach: str, objective: str) -> list[str]:
    """The problems `check` reports ([] when it accepts the dataset)."""
    try:
        data.check(dataset, "qa-jsonl", ApproachConfig(name=approach), objective)
    except ConfigError as e:
        return e.problems
    return []


# ---------------------------------------------------------------- check


@pytest.mark.parametrize("approach", ["base", "rag", "finetune", "hybrid", "raft"])
@pytest.mark.parametrize("objective", ["qa", "cpt", "qa+cpt"])
def test_check_accepts_a_dataset_with_every_split(approach, objective):
    assert problems(FULL, approach, objective) == []


def test_check_rejects_an_empty_eval_split_for_every_cell():
    ds = Dataset(corpus=(DOC,), train=(EX,), eval=())
    assert problems(ds, "base", "qa") == [EMPTY_EVAL]
    with pytest.raises(ConfigError, match="the eval split is empty"):
        data.check(ds, "qa-jsonl", ApproachConfig(name="rag"), "qa")


@pytest.mark.parametrize(
    "approach,objective,missing",
    [
        ("base", "qa", False),  # answers from the model alone
        ("finetune", "qa", False),  # trains on questions only
        ("rag", "qa", True),  # retrieves
        ("hybrid", "qa", True),
        ("finetune", "cpt", True),  # continued pre-training reads the documents
        ("finetune", "qa+cpt", True),
    ],
)
def test_check_needs_documents_only_to_retrieve_or_pretrain(approach, objective, missing):
    ds = Dataset(corpus=(), train=(EX,), eval=(EX,))
    expected = [needs_documents(approach, objective)] if missing else []
    assert problems(ds, approach, objective) == expected


@pytest.mark.parametrize(
    "approach,objective,missing",
    [
        ("base", "qa", False),
        ("rag", "qa", False),  # does not train
        ("finetune", "qa", True),
        ("raft", "qa", True),
        ("finetune", "qa+cpt", True),
        ("finetune", "cpt", False),  # trains on the documents, not the questions
    ],
)
def test_check_needs_train_questions_only_to_train_on_questions(approach, objective, missing):
    ds = Dataset(corpus=(DOC,), train=(), eval=(EX,))
    expected = [needs_train(approach)] if missing else []
    assert problems(ds, approach, objective) == expected


def test_check_lists_every_problem_at_once():
    empty = Dataset(corpus=(), train=(), eval=())
    with pytest.raises(ConfigError) as info:
        data.check(empty, "qa-jsonl", ApproachConfig(name="hybrid"), "qa")
    assert info.value.problems == [
        EMPTY_EVAL,
        needs_documents("hybrid", "qa"),
        needs_train("hybrid"),
    ]
    assert needs_train("hybrid") in str(info.value)


# ---------------------------------------------------------------- fingerprint


def example(id_: str, question: str = "Q?", answers=("a",), gold=(), phrasing="") -> QAExample:
    return QAExample(
        id=id_, question=question, answers=answers, gold_doc_ids=gold, phrasing=phrasing
    )


def test_fingerprint_encoding_is_pinned():
    """Caches and resumed results key on it: the layout must not drift between versions."""
    d2 = Document(id="d2", text="Two.", title="")
    t = example("t1", "T?", ("x", "y"), ("d1",), "train")
    e = example("e1", "E?", ("z",), ("d1", "d2"), "heldout")
    ds = Dataset(corpus=(DOC, d2), train=(t,), eval=(e,))
    corpus = ["D", "d1", "Ilsa", DOC.text, "D", "d2", "", "Two."]
    train = ["T", "t1", "T?", "x", "y", "|", "d1", "train"]
    eval_ = ["E", "e1", "E?", "z", "|", "d1", "d2", "heldout"]
    assert data.fingerprint(ds) == texts_sha256(corpus + train + eval_)
    assert data.fingerprint(ds, with_train=True) == texts_sha256(corpus + train + eval_)
    assert data.fingerprint(ds, with_train=False) == texts_sha256(corpus + eval_)


def test_fingerprint_changes_with_any_document_or_question():
    a, b = Document(id="a", text="A.", title="A"), Document(id="b", text="B.", title="B")
    q1, q2 = example("q1"), example("q2")
    base = Dataset(corpus=(a, b), train=(q1, q2), eval=(q1, q2))
    fp = data.fingerprint(base)
    changed = [
        Dataset(corpus=(Document(id="a", text="A!", title="A"), b), train=(q1, q2), eval=(q1, q2)),
        Dataset(corpus=(a, b), train=(example("q1", "Other?"), q2), eval=(q1, q2)),
        Dataset(corpus=(a, b), train=(q1, q2), eval=(example("q1", answers=("b",)), q2)),
        Dataset(corpus=(a, b), train=(q1, q2), eval=(q1,)),
        Dataset(corpus=(a, b), train=(q1,), eval=(q1, q2)),
    ]
    assert all(data.fingerprint(ds) != fp for ds in changed)
    assert data.fingerprint(Dataset(corpus=(a, b), train=(q1, q2), eval=(q1, q2))) == fp


def test_fingerprint_without_train_ignores_the_training_split_only():
    q1, q2 = example("q1"), example("q2")
    ds = Dataset(corpus=(DOC,), train=(q1,), eval=(q2,))
    other_train = Dataset(corpus=(DOC,), train=(q1, q2), eval=(q2,))
    assert data.fingerprint(ds, with_train=False) == data.fingerprint(other_train, with_train=False)
    assert data.fingerprint(ds) != data.fingerprint(other_train)  # with_train by default
    other_eval = Dataset(corpus=(DOC,), train=(q1,), eval=(q1,))
    assert data.fingerprint(ds, with_train=False) != data.fingerprint(other_eval, with_train=False)


def test_fingerprint_tells_the_splits_apart():
    q1, q2 = example("q1"), example("q2")
    assert data.fingerprint(Dataset(corpus=(), train=(q1,), eval=(q2,))) != data.fingerprint(
        Dataset(corpus=(), train=(q2,), eval=(q1,))
    )
    # the answers/gold boundary: answers ("a", "b") differ from answer "a" + gold doc "b"
    assert data.fingerprint(
        Dataset(corpus=(), train=(), eval=(example("q", answers=("a", "b")),))
    ) != data.fingerprint(Dataset(corpus=(), train=(), eval=(example("q", gold=("b",)),)))


# ---------------------------------------------------------------- load() passes the config on


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "text": "Doc one."}])


def test_load_qa_jsonl_uses_the_configured_seed_and_corpus(tmp_path, corpus_file):
    rows = [{"id": f"q{i}", "question": f"Q{i}?", "answers": ["a"]} for i in range(20)]
    p = write_jsonl(tmp_path / "qa.jsonl", rows)
    for seed in (0, 5):
        cfg = DataConfig(
            name="qa-jsonl", path=str(p), corpus_path=str(corpus_file), eval_fraction=0.5, seed=seed
        )
        assert data.load(cfg) == load_qa_jsonl(p, corpus_file, 0.5, seed)
    assert [d.id for d in data.load(cfg).corpus] == ["d1"]


def test_load_alpaca_jsonl_uses_the_configured_seed_and_corpus(tmp_path, corpus_file):
    rows = [{"id": f"a{i}", "instruction": f"Do {i}.", "output": "done"} for i in range(20)]
    p = write_jsonl(tmp_path / "a.jsonl", rows)
    for seed in (0, 5):
        cfg = DataConfig(
            name="alpaca-jsonl",
            path=str(p),
            corpus_path=str(corpus_file),
            eval_fraction=0.5,
            seed=seed,
        )
        assert data.load(cfg) == load_alpaca_jsonl(p, corpus_file, 0.5, seed)
    assert [d.id for d in data.load(cfg).corpus] == ["d1"]


# ---------------------------------------------------------------- check: unanswerable only

UNANSWERABLE = QAExample(id="u1", question="Whom did Ilsa marry?", answers=())
ALL_UNANSWERABLE = Dataset(corpus=(DOC,), train=(EX,), eval=(UNANSWERABLE, UNANSWERABLE))


def test_check_warns_when_every_eval_question_is_unanswerable_without_abstain(caplog):
    with caplog.at_level("WARNING", logger="ragft.data"):
        data.check(ALL_UNANSWERABLE, "qa-jsonl", ApproachConfig(name="base"), "qa", abstain=False)
    (record,) = [r for r in caplog.records if r.name == "ragft.data"]
    assert record.levelname == "WARNING"
    assert "prompt.abstain" in record.getMessage()
    assert record.getMessage().startswith("data=qa-jsonl: every eval question is unanswerable")


def test_check_warns_by_default_since_abstain_is_off_by_default(caplog):
    with caplog.at_level("WARNING", logger="ragft.data"):
        data.check(ALL_UNANSWERABLE, "qa-jsonl", ApproachConfig(name="rag"), "qa")
    assert any("prompt.abstain" in r.getMessage() for r in caplog.records)


def test_check_does_not_warn_with_abstain(caplog):
    with caplog.at_level("DEBUG", logger="ragft.data"):
        data.check(ALL_UNANSWERABLE, "qa-jsonl", ApproachConfig(name="base"), "qa", abstain=True)
    assert [r for r in caplog.records if r.name == "ragft.data"] == []


def test_check_does_not_warn_when_one_eval_question_is_answerable(caplog):
    ds = Dataset(corpus=(DOC,), train=(EX,), eval=(UNANSWERABLE, EX))
    with caplog.at_level("DEBUG", logger="ragft.data"):
        data.check(ds, "qa-jsonl", ApproachConfig(name="base"), "qa", abstain=False)
    assert [r for r in caplog.records if r.name == "ragft.data"] == []


def test_an_unanswerable_only_eval_split_is_a_warning_not_a_problem():
    assert problems(ALL_UNANSWERABLE, "base", "qa") == []
    assert problems(ALL_UNANSWERABLE, "finetune", "qa") == []
