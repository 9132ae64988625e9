"""The backend interface: replies parsed and schema-checked, the request journal that makes a
killed generation resume without repeating a request, and constrained decoding on the tiny
random model (every reply parses)."""

from __future__ import annotations

import json

import pytest

from ragft.datagen import prompts
from ragft.llm import Reply, Request, parse_reply
from ragft.llm.journal import Journal

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


def test_parse_reply_accepts_valid_json_and_a_code_fence():
    assert parse_reply('{"n": 3}', SCHEMA).data == {"n": 3}
    assert parse_reply('```json\n{"n": 3}\n```', SCHEMA).data == {"n": 3}
    assert parse_reply("no schema, any text", None) == Reply("no schema, any text")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Sure: {n: 3}", "invalid_json"),
        ("", "invalid_json"),
        ('{"n": "three"}', "schema: 'three' is not of type 'integer'"),
        ('{"n": 3, "m": 4}', "schema: Additional properties are not allowed ('m' was unexpected)"),
        ("[]", "schema: [] is not of type 'object'"),
    ],
)
def test_parse_reply_rejects_what_breaks_the_schema(text, error):
    reply = parse_reply(text, SCHEMA, 7, 2)
    assert reply.data is None and reply.error == error
    assert (reply.text, reply.tokens_in, reply.tokens_out) == (text, 7, 2)


def test_a_request_key_depends_on_everything_that_decides_the_reply():
    base = Request("sys", "user", SCHEMA, 10)
    assert base.key == Request("sys", "user", dict(SCHEMA), 10).key
    others = [Request("sys2", "user", SCHEMA, 10), Request("sys", "user2", SCHEMA, 10),
              Request("sys", "user", None, 10), Request("sys", "user", SCHEMA, 11)]  # fmt: skip
    assert len({base.key, *(r.key for r in others)}) == 5


class Counting:
    """A deterministic backend that records what it was asked."""

    def __init__(self, fail_after: int | None = None):
        self.asked: list[str] = []
        self.fail_after = fail_after

    def complete(self, requests, on_reply=None):
        out = []
        for i, r in enumerate(requests):
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise KeyboardInterrupt  # killed half-way
            self.asked.append(r.user)
            reply = parse_reply(json.dumps({"n": len(r.user)}), r.schema, 1, 1)
            out.append(reply)
            if on_reply:
                on_reply(i, reply)
        return out


def requests(n: int) -> list[Request]:
    return [Request("", "x" * (i + 1), SCHEMA, 8) for i in range(n)]


def test_the_journal_resumes_without_asking_an_answered_request_again(tmp_path):
    path = tmp_path / "j.jsonl"
    first = Counting(fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        Journal(path).complete(first, requests(6))
    assert len(path.read_text().splitlines()) == 3
    again = Counting()
    replies, sent, _ = Journal(path).complete(again, requests(6))
    assert sent == 3 and again.asked == ["x" * 4, "x" * 5, "x" * 6]
    assert [r.data["n"] for r in replies] == [1, 2, 3, 4, 5, 6]
    uninterrupted, _, _ = Journal(tmp_path / "k.jsonl").complete(Counting(), requests(6))
    assert replies == uninterrupted


def test_a_line_cut_short_by_a_kill_is_asked_again(tmp_path):
    path = tmp_path / "j.jsonl"
    Journal(path).complete(Counting(), requests(2))
    text = path.read_text()
    path.write_text(text[: len(text) - 10])  # the second line is cut
    again = Counting()
    _, sent, _ = Journal(path).complete(again, requests(2))
    assert sent == 1 and again.asked == ["xx"]


def test_a_request_asked_twice_in_one_call_is_sent_once(tmp_path):
    backend = Counting()
    replies, sent, _ = Journal(tmp_path / "j.jsonl").complete(backend, requests(2) + requests(1))
    assert sent == 2 and len(replies) == 3 and replies[0] == replies[2]


@pytest.mark.slow
def test_constrained_decoding_makes_every_reply_of_the_random_model_parse(tmp_path):
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig
    from ragft.llm.hf import HFBackend

    cfg = ModelConfig(name="tiny-llama", source="tiny-random")
    loaded = modeling.load(cfg, QuantConfig(), Cache(tmp_path), seed=0)
    backend = HFBackend(loaded.model, loaded.tokenizer, batch_size=4)
    text = "Lake Baikal in Siberia is the deepest lake, at 1642 metres."
    types = {"factual_question": "a fact", "numeric_fact": "a number", "list": "a list"}
    asked = [
        prompts.types_request(text, types, 2),
        *[prompts.records_request(text, t, w, 2, 24) for t, w in types.items()],
        prompts.paraphrase_request("How deep is Lake Baikal?", 2, 24),
    ]
    replies = backend.complete(asked)
    assert [r.error for r in replies] == [""] * len(asked), [r.text for r in replies]
    assert set(replies[0].data["types"]) <= set(types) and replies[0].data["types"]
    for reply in replies[1:4]:
        assert 1 <= len(reply.data["records"]) <= 2
        assert all(len(rec["output"]) <= 24 for rec in reply.data["records"])
    # without the constraint the same model writes no JSON at all
    from ragft.generation import generate

    prompt = backend._prompt(asked[1])
    raw, _ = generate(loaded.model, loaded.tokenizer, [prompt], max_new_tokens=40,
                      batch_size=1, max_input_tokens=2048, progress=False)  # fmt: skip
    assert parse_reply(raw[0].text, asked[1].schema).data is None
    # a prompt over the input limit is refused, not cut (its start is the document's text)
    from ragft.llm import LLMError
    from ragft.llm.factory import TOO_LONG

    short = HFBackend(loaded.model, loaded.tokenizer, batch_size=4, max_input_tokens=16)
    with pytest.raises(LLMError, match=r"tokens is longer than the model's input limit of 16; "
                       r"lower datagen.chunk_words"):  # fmt: skip
        short.complete([asked[0]])
    # the judge's user is told what to change for a judge, not for the data generator
    judge_hint = TOO_LONG["metrics.judge.endpoint"]
    as_judge = HFBackend(loaded.model, loaded.tokenizer, 4, 16, too_long_hint=judge_hint)
    with pytest.raises(LLMError, match=r"input limit of 16; give a judge that takes longer "
                       r"inputs \(metrics.judge.path\)"):  # fmt: skip
        as_judge.complete([asked[0]])
