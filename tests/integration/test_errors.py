"""Bad input: one short message naming the key or file, non-zero exit, no results.json."""

from __future__ import annotations

import json

import pytest

from ..helpers import run_py

pytestmark = pytest.mark.integration


def _fails(res, *needles: str) -> None:
    # exit 2 for what ragft refuses, 1 for what Hydra refuses at compose time (RELIABILITY.md)
    expected = 2 if "ragft: error:" in res.stderr else 1
    assert res.returncode == expected, res.stdout[-2000:] + res.stderr[-2000:]
    for needle in needles:
        assert needle in res.stderr, f"{needle!r} not in:\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert not (res.out_dir / "results.json").exists()


def test_unknown_retriever_lists_the_allowed_ones(tmp_path):
    res = run_py(tmp_path / "out", "retriever=nope")
    _fails(res, "retriever/nope", "Available options in 'retriever'", "bm25", "dense", "hybrid")


def test_unknown_approach_lists_the_allowed_ones(tmp_path):
    res = run_py(tmp_path / "out", "approach=closedbook")
    _fails(res, "approach/closedbook", "base", "rag", "finetune", "hybrid", "raft")


def test_wrong_type_and_unknown_key(tmp_path):
    _fails(run_py(tmp_path / "a", "retriever.k=five"), "retriever.k", "five")
    _fails(run_py(tmp_path / "b", "retriever.topk=5"), "topk", "RetrieverConfig")


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (("approach=rag", "retriever=none"), ("approach=rag", "retriever=none", "bm25")),
        (("retriever.k=0",), ("retriever.k=0", "positive")),
        (("retriever.chunk_size=10", "retriever.chunk_overlap=20"), ("retriever.chunk_overlap",)),
        (("approach=finetune", "lora.r=0"), ("lora.r=0", "positive")),
        (("approach=finetune", "lora=none", "quant=nf4"), ("quant=nf4", "lora=none")),
        (("data=qa-jsonl",), ("data.path",)),
    ],
)
def test_config_errors_name_key_value_and_allowed(tmp_path, overrides, needles):
    _fails(run_py(tmp_path / "out", *overrides), "ragft: error", *needles)


def test_unknown_lora_target_lists_the_models_linear_modules(tmp_path):
    res = run_py(
        tmp_path / "out",
        "approach=finetune",
        "lora.target_modules=[q_proj,qkv]",
    )
    _fails(res, "lora.target_modules", "qkv", "q_proj", "down_proj")


def _qa_file(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_missing_data_file(tmp_path):
    res = run_py(
        tmp_path / "out",
        "data=qa-jsonl",
        f"data.path={tmp_path}/nope.jsonl",
        "approach=base",
        "retriever=none",
    )
    _fails(res, "nope.jsonl", "no such file")


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    good = json.dumps({"id": "q1", "question": "Who?", "answers": ["Me"]})
    qa = _qa_file(tmp_path / "qa.jsonl", [good, '{"id": "q2", "question": ', good])
    res = run_py(
        tmp_path / "out", "data=qa-jsonl", f"data.path={qa}", "approach=base", "retriever=none"
    )
    _fails(res, "qa.jsonl:2")


def test_missing_field_is_named(tmp_path):
    qa = _qa_file(tmp_path / "qa.jsonl", [json.dumps({"id": "q1", "answers": ["Me"]})])
    res = run_py(
        tmp_path / "out", "data=qa-jsonl", f"data.path={qa}", "approach=base", "retriever=none"
    )
    _fails(res, "qa.jsonl:1", "question")


def test_empty_corpus_folder(tmp_path):
    qa = _qa_file(tmp_path / "qa.jsonl", [json.dumps({"question": "Who?", "answers": ["Me"]})])
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "notes.csv").write_text("a,b\n")
    res = run_py(
        tmp_path / "out",
        "data=qa-jsonl",
        f"data.path={qa}",
        f"data.corpus_path={corpus}",
        "approach=rag",
        "retriever=bm25",
    )
    _fails(res, "docs", "no readable")


def test_user_data_end_to_end(tmp_path):
    """A user's QA file and corpus folder run through rag with bm25."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "zorvath.txt").write_text("Zorvath Quillane grew up in the town of Velmora.\n")
    (corpus / "ilsa.md").write_text("# Ilsa Brenn\n\nIlsa Brenn invented the Tavrin compass.\n")
    rows = [
        {
            "id": "a",
            "question": "Where did Zorvath Quillane grow up?",
            "answers": ["Velmora"],
            "gold_doc_ids": ["zorvath.txt"],
            "split": "eval",
        },
        {
            "id": "b",
            "question": "What did Ilsa Brenn invent?",
            "answers": ["Tavrin compass"],
            "gold_doc_ids": ["ilsa.md"],
            "split": "eval",
        },
    ]
    qa = _qa_file(tmp_path / "qa.jsonl", [json.dumps(r) for r in rows])
    res = run_py(
        tmp_path / "out",
        "data=qa-jsonl",
        f"data.path={qa}",
        f"data.corpus_path={corpus}",
        "approach=rag",
        "retriever=bm25",
        "retriever.k=1",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.results["scores"]["recall_at_k"] == 1.0
    assert [r["passages"][0]["doc_id"] for r in res.predictions] == ["zorvath.txt", "ilsa.md"]
