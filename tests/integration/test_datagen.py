"""From documents to a study: generate.py's files, data=generated in a sweep that generates
once, bad corpora, and generate.py against a real `transformers serve`.
(A killed endpoint generation's resume is in tests/reliability/test_datagen_resume.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragft.data.qa import load_alpaca_jsonl, load_qa_jsonl

from ..helpers import (
    ROOT,
    TINY,
    kb_markdown,
    served_requests,
    tiny_model_folder,
    transformers_serve,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    """Four Markdown documents from the fictional knowledge base (facts known)."""
    return kb_markdown(tmp_path_factory.mktemp("docs"))


def generate_py(out: Path, *overrides: str, env: dict | None = None, **kw):
    """`python generate.py hydra.run.dir=OUT OVERRIDES...` in a subprocess."""
    args = [sys.executable, str(ROOT / "generate.py"), f"hydra.run.dir={out}", *overrides]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=env, **kw)  # fmt: skip


def test_generate_writes_files_that_the_user_data_loaders_read(tmp_path, docs):
    out = tmp_path / "set"
    proc = generate_py(out, f"data.corpus_path={docs}", f"cache.dir={tmp_path / 'cache'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ragft: generated set" in proc.stdout
    stats = json.loads((out / "stats.json").read_text())
    qa = load_qa_jsonl(out / "qa.jsonl", docs, 0.2, 0)
    alpaca = load_alpaca_jsonl(out / "alpaca.jsonl", docs, 0.2, 0)
    assert len(qa.eval) == len(alpaca.eval) > 0 and len(qa.train) == len(alpaca.train) > 0
    assert [e.question for e in qa.eval] == [e.question for e in alpaca.eval]
    known = {d.id for d in qa.corpus}
    assert all(set(e.gold_doc_ids) <= known for e in qa.train + qa.eval)
    report = (out / "generation_report.md").read_text()
    assert f"{len(qa.train)} train and {len(qa.eval)} eval records" in report
    assert "| wh_question |" in report and "## Dropped, per filter" in report
    assert stats["backend"] == "extractive" and stats["documents"] == 4
    # the same documents and settings again: the cached set, byte for byte
    again = generate_py(tmp_path / "again", f"data.corpus_path={docs}",
                        f"cache.dir={tmp_path / 'cache'}")  # fmt: skip
    assert again.returncode == 0 and "ragft: cached set" in again.stdout
    assert (tmp_path / "again" / "qa.jsonl").read_bytes() == (out / "qa.jsonl").read_bytes()


def test_a_sweep_on_generated_data_generates_once(tmp_path, docs):
    cache = tmp_path / "cache"
    args = [sys.executable, str(ROOT / "run.py"), "-m", *TINY, "data=generated",
            f"data.corpus_path={docs}", f"cache.dir={cache}", "approach=base,rag",
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert log.count("datagen: extractive set") == 2
    assert log.count("(generated)") == 1 and log.count("(cached)") == 1
    assert len(list((cache / "datagen").iterdir())) == 1 + 1  # the entry and its lock
    results = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")]
    assert sorted(r["approach"] for r in results) == ["base", "rag"]
    assert len({r["n_eval"] for r in results}) == 1 and results[0]["n_eval"] > 0


@pytest.mark.parametrize(
    ("corpus", "message"),
    [
        ("empty", "the corpus is empty"),
        ("no-docs", "no readable .txt or .md files"),
    ],
)
def test_bad_corpora_are_one_clear_error_and_nothing_written(tmp_path, corpus, message):
    folder = tmp_path / corpus
    folder.mkdir()
    if corpus == "empty":
        (folder / "blank.md").write_text("  \n")
    else:
        (folder / "notes.pdf.bak").write_text("x")
    proc = generate_py(tmp_path / "out", f"data.corpus_path={folder}",
                       f"cache.dir={tmp_path / 'cache'}")  # fmt: skip
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "qa.jsonl").exists()


def test_generate_against_a_real_transformers_serve(tmp_path, docs):
    """transformers' own OpenAI-compatible server on the tiny random model: it ignores
    response_format, so every reply is free text, rejected by schema validation and counted."""
    folder = tiny_model_folder(tmp_path / "cache")
    with transformers_serve(folder, tmp_path / "serve.log") as base_url:
        proc = generate_py(
            tmp_path / "out", f"data.corpus_path={docs}", f"cache.dir={tmp_path / 'cache'}",
            "datagen=openai", f"datagen.endpoint.base_url={base_url}",
            f"datagen.endpoint.model={folder}", "datagen.max_chunks=2",
            "datagen.endpoint.max_tokens=12", "datagen.endpoint.max_retries=1",
        )  # fmt: skip
    served = (tmp_path / "serve.log").read_text()
    assert served_requests(tmp_path / "serve.log") == 2  # one per chunk
    assert "response_format" in served  # "Ignoring unsupported fields in the request"
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "dropped: {'schema_invalid': 2}" in proc.stderr
    assert not (tmp_path / "out" / "qa.jsonl").exists()
