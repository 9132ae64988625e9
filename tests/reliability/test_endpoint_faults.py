"""The openai backend against a scripted server on 127.0.0.1: replies, retries, every fault's
one clear message (connection refused, 401, 404, 429 then success, 500 past the retry
budget, a timeout, text that is not JSON), and the key kept out of messages."""

from __future__ import annotations

import pytest

from ragft.datagen import prompts
from ragft.llm import LLMError, Request
from ragft.llm.endpoint import EndpointBackend
from tests.llm_server import KEY, Server

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("RAGFT_TEST_KEY", KEY)
    return KEY


def backend(server: Server, **kw) -> EndpointBackend:
    opts = dict(concurrency=2, max_retries=2, timeout=5.0) | kw
    return EndpointBackend(server.base_url, "served-model", "RAGFT_TEST_KEY", **opts)


def records_request(text: str = "Lake Baikal is in Siberia.") -> Request:
    return prompts.records_request(text, "factual_question", "a fact", 1, 80)


def test_replies_come_back_in_request_order_parsed_and_counted(key):
    texts = [f"Alpha{i} Beta{i} is a word." for i in range(5)]
    with Server("ok") as s:
        seen = []
        replies = backend(s).complete(
            [records_request(t) for t in texts], lambda i, r: seen.append(i)
        )
    assert sorted(seen) == list(range(5))
    assert [r.data["records"][0]["instruction"] for r in replies] == [
        f"Which word follows Alpha{i} in the text?" for i in range(5)
    ]
    assert all(r.tokens_in == 10 and r.tokens_out == 5 and r.error == "" for r in replies)
    assert len(s.log) == 5
    assert all(e["auth"] == f"Bearer {KEY}" for e in s.log)


@pytest.mark.measures("fault")
def test_429_then_success_is_retried_by_the_client(key, tally):
    tally.fault()
    with Server("429-then-ok", fail_first=2) as s:
        (reply,) = backend(s, concurrency=1).complete([records_request()])
    assert reply.data is not None
    assert [e["status"] for e in s.log] == [429, 429, 200]


@pytest.mark.measures("fault")
def test_500_until_the_retry_budget_is_spent_is_one_clear_error(key, tally):
    tally.fault()
    with Server("500") as s:
        with pytest.raises(LLMError, match=r"kept answering 500 through 2 retries"):
            backend(s, concurrency=1).complete([records_request()])
    assert len(s.log) == 3  # the first try and two retries, then it stops


@pytest.mark.measures("fault")
def test_401_names_the_variable_and_never_the_key(monkeypatch, tally):
    tally.fault()
    monkeypatch.setenv("RAGFT_TEST_KEY", "sk-wrong-key-1234")
    with Server("ok") as s:
        with pytest.raises(LLMError) as err:
            backend(s).complete([records_request()])
    message = str(err.value)
    assert "401" in message and "$RAGFT_TEST_KEY" in message
    assert "sk-wrong-key-1234" not in message  # (the full leak check, files and logs, is slow)
    assert len(s.log) == 1  # 401 is not retried


@pytest.mark.measures("fault")
def test_404_says_model_or_base_url(key, tally):
    tally.fault()
    with Server("404") as s:
        with pytest.raises(LLMError, match=r"404: no such model there, or base_url"):
            backend(s).complete([records_request()])


@pytest.mark.measures("fault")
def test_connection_refused_says_is_the_server_running(key, tally):
    tally.fault()
    with Server("ok") as s:
        url = s.base_url
    dead = EndpointBackend(url, "m", "RAGFT_TEST_KEY", max_retries=1, timeout=2.0)
    with pytest.raises(LLMError, match=r"cannot connect to http://127\.0\.0\.1:\d+/v1"):
        dead.complete([records_request()])


@pytest.mark.measures("fault")
def test_a_timeout_after_every_retry_is_one_clear_error(key, tally):
    tally.fault()
    with Server("ok", delay=1.5) as s:
        with pytest.raises(LLMError, match=r"timed out 2 times"):
            backend(s, concurrency=1, max_retries=1, timeout=0.5).complete([records_request()])
    assert len(s.log) == 2


@pytest.mark.measures("fault")
def test_text_that_is_not_json_is_rejected_and_kept_as_an_error(key, tally):
    tally.fault()
    with Server("not-json") as s:
        (reply,) = backend(s).complete([records_request()])
    assert reply.data is None and reply.error == "invalid_json"
    assert reply.text == "Sure! Here is the answer."


@pytest.mark.measures("fault")
def test_json_that_breaks_the_schema_is_rejected(key, tally):
    tally.fault()
    with Server("ok") as s:  # answers {"records": ...}, which SCHEMA does not allow
        (reply,) = backend(s).complete([Request("", "Say something.", SCHEMA, 50)])
    assert reply.data is None and reply.error.startswith("schema: 'answer' is a required")
