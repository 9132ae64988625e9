"""The generation stage end to end in process, with a stand-in backend: long documents are
chunked (never cut), invalid replies are counted and never become records, the cost figures
add up, and the cached stage generates once."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ragft.cache import Cache
from ragft.config import DatagenConfig, ModelConfig, QuantConfig
from ragft.datagen import build, identity, run
from ragft.errors import DataError
from ragft.llm import parse_reply
from ragft.llm.journal import Journal
from ragft.retrieval.chunking import chunk_documents
from ragft.types import Document
from tests.llm_server import answer

TYPES = {"factual_question": "a fact", "list": "a list"}
CFG = DatagenConfig(backend="hf", types=TYPES, max_types=1, per_type=1, grounding=0.0,
                    near_duplicate=None, paraphrases=1)  # fmt: skip


class StandIn:
    """Answers like tests/llm_server.py's "ok" mode; `bad` replies are prose, not JSON."""

    def __init__(self, bad: int = 0):
        self.asked: list = []
        self.bad = bad

    def complete(self, requests, on_reply=None):
        out = []
        for i, r in enumerate(requests):
            self.asked.append(r)
            body = {
                "messages": r.messages(),
                "response_format": {"json_schema": {"schema": r.schema}},
            }
            text = "Sure!" if len(self.asked) <= self.bad else json.dumps(answer(body))
            out.append(parse_reply(text, r.schema, 3, 2))
            if on_reply:
                on_reply(i, out[-1])
        return out


def long_document(n_sentences: int = 60) -> Document:
    text = " ".join(
        f"Sentence{i} Alpha{i} Beta{i} names a fact number {i}." for i in range(n_sentences)
    )
    return Document(id="long.md", title="long", text=text)


def test_a_long_document_is_chunked_and_every_word_reaches_a_request(tmp_path):
    doc = long_document()
    backend = StandIn()
    cfg = replace(CFG, chunk_words=100)
    train, held, stats = run((doc,), cfg, backend, Journal(tmp_path / "j"), seed=0, progress=False)
    n_chunks = len(chunk_documents([doc], 100, 0))
    assert stats["chunks"] == n_chunks >= 5  # 540 words in chunks of at most 100
    steps = [r for r in backend.asked if '"types"' in r.user]
    assert len(steps) == n_chunks
    quoted = " ".join(r.user.split("Text:\n", 1)[1].split("\n\n")[0] for r in steps)
    for i in range(60):
        assert f"Alpha{i} Beta{i}" in quoted
    assert all(len(r.user.split("Text:\n", 1)[1].split("\n\n")[0].split()) <= 101 for r in steps)
    assert {r.chunk_id for r in train + held} == {f"long.md#{i}" for i in range(n_chunks)}


def test_invalid_replies_are_counted_and_never_become_records(tmp_path):
    doc = long_document(20)
    cfg = replace(CFG, chunk_words=40)  # 4 chunks: 4 type requests, then records
    train, held, stats = run((doc,), cfg, StandIn(bad=3), Journal(tmp_path / "j"), 0, False)
    assert stats["dropped"]["schema_invalid"] == 3
    assert stats["chunks"] == 4 and stats["raw_records"] == 1  # the one chunk that got types
    assert {r.chunk_id for r in train + held} == {"long.md#3"}


def test_cost_figures_add_up_and_a_price_is_estimated(tmp_path):
    cfg = replace(CFG, chunk_words=100, price_per_1k_input=2.0, price_per_1k_output=10.0)
    backend = StandIn()
    _, _, stats = run((long_document(),), cfg, backend, Journal(tmp_path / "j"), 0, False)
    cost = stats["cost"]
    n = len(backend.asked)  # types + records + paraphrases
    assert cost["requests"] == n and cost["requests_resumed"] == 0
    assert (cost["tokens_in"], cost["tokens_out"]) == (3 * n, 2 * n)
    assert cost["estimated_price"] == pytest.approx(3 * n / 1000 * 2.0 + 2 * n / 1000 * 10.0)
    _, _, again = run((long_document(),), cfg, StandIn(), Journal(tmp_path / "j"), 0, False)
    assert again["cost"]["requests"] == 0 and again["cost"]["requests_resumed"] == n


def test_no_eval_question_is_one_clear_error(tmp_path):
    message = (
        r"generation gave no eval questions from 1 documents "
        r"\(4 chunks, 0 raw records; dropped: \{'schema_invalid': 4\}\)"
    )
    with pytest.raises(DataError, match=message):
        run((long_document(20),), replace(CFG, chunk_words=40), StandIn(bad=99),
            Journal(tmp_path / "j"), 0, False)  # fmt: skip


def test_the_cached_stage_builds_once_and_makes_its_backend_only_then(tmp_path):
    corpus = (long_document(),)
    cfg = replace(CFG, chunk_words=100)
    ident = identity(corpus, cfg, ModelConfig(), QuantConfig(), 0)
    made = []

    def make():
        made.append(1)
        return StandIn()

    cache = Cache(tmp_path)
    first, hit = build(corpus, cfg, make, cache, ident, progress=False)
    second, hit2 = build(corpus, cfg, make, cache, ident, progress=False)
    assert (hit, hit2, first, len(made)) == (False, True, second, 1)
    assert sorted(p.name for p in first.iterdir() if p.name != "MANIFEST.json") == [
        "alpaca.jsonl",
        "generation_report.md",
        "qa.jsonl",
        "stats.json",
    ]
    assert not (cache.root / "datagen-journal" / f"{first.name}.jsonl").exists()


def test_the_identity_holds_what_decides_the_set_and_nothing_else():
    corpus = (long_document(),)
    base = identity(corpus, CFG, ModelConfig(), QuantConfig(), 0)
    endpoint = replace(CFG.endpoint, concurrency=9, api_key_env="K")
    same = [replace(CFG, name="x", price_per_1k_input=3.0), replace(CFG, endpoint=endpoint)]
    for cfg in same:
        assert identity(corpus, cfg, ModelConfig(), QuantConfig(), 0) == base
    differ = [
        identity(corpus, replace(CFG, per_type=2), ModelConfig(), QuantConfig(), 0),
        identity(corpus, CFG, ModelConfig(dtype="bfloat16"), QuantConfig(), 0),
        identity(corpus, CFG, ModelConfig(), QuantConfig(), 1),
        identity((long_document(59),), CFG, ModelConfig(), QuantConfig(), 0),
    ]
    assert all(d != base for d in differ)
    extractive = replace(CFG, backend="extractive")
    a = identity(corpus, extractive, ModelConfig(), QuantConfig(), 0)
    b = identity(corpus, replace(extractive, per_type=5, types={}), ModelConfig(dtype="x"),
                 QuantConfig(), 0)  # fmt: skip
    assert a == b  # rules use neither the types nor the model
