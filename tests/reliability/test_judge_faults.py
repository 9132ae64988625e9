"""The LLM judge against a scripted OpenAI-compatible server on 127.0.0.1 (real HTTP, the real
`openai` client, the backend built by `llm.factory` as the scoring stage builds it): a judge
endpoint that is down, one that answers 401, one that keeps replying without a rating (every
item missing after `max_attempts`, never 0, with a bounded number of requests); and the good
paths: JSON and MT-Bench ratings read, a reply without a rating asked again, a re-run that
sends nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragft.cache import Cache
from ragft.config import EndpointConfig, JudgeConfig, ModelConfig, QuantConfig
from ragft.judge import JudgeItem, journal_path, judge
from ragft.llm import LLMError
from ragft.llm.factory import make_backend
from tests.llm_server import KEY, Server

WHERE = "metrics.judge.endpoint"
ITEMS = [
    JudgeItem("Where did Ilsa grow up?", "Velmora", "She grew up in Velmora."),
    JudgeItem("Who founded the guild?", "Arno Vell", "It was founded by the king."),
    JudgeItem("When was the bridge built?", "1742", "In 1742."),
]


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("RAGFT_TEST_KEY", KEY)
    return KEY


def config(base_url: str, **endpoint) -> JudgeConfig:
    opts = dict(model="judge-model", api_key_env="RAGFT_TEST_KEY", concurrency=2,
                max_retries=1, timeout=5.0) | endpoint  # fmt: skip
    return JudgeConfig(backend="openai", endpoint=EndpointConfig(base_url=base_url, **opts))


def run_judge(cfg: JudgeConfig, tmp_path, made: list | None = None):
    build = make_backend("openai", cfg.endpoint, ModelConfig(), QuantConfig(), Cache(tmp_path),
                         0, cfg.batch_size, 2048, WHERE)  # fmt: skip

    def counted():
        if made is not None:
            made.append(1)
        return build()

    path = journal_path(tmp_path, cfg, {})
    return judge(ITEMS, cfg, counted, path, progress=False), path


def journalled(path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.mark.measures("bad_input")
def test_a_judge_endpoint_that_is_down_is_one_clear_error(key, tally, tmp_path):
    tally.bad_input()
    with Server("judge") as s:
        url = s.base_url  # the port is free again once the server is gone
    cfg = config(url, timeout=2.0)
    with pytest.raises(LLMError) as err:
        run_judge(cfg, tmp_path)
    message = str(err.value)
    assert message == (
        f"cannot connect to {url}: is the server running? (metrics.judge.endpoint.base_url)"
    )
    assert journalled(journal_path(tmp_path, cfg, {})) == 0  # nothing partial


@pytest.mark.measures("bad_input")
def test_a_judge_endpoint_that_answers_401_names_the_variable_never_the_key(
    monkeypatch, tally, tmp_path
):
    tally.bad_input()
    monkeypatch.setenv("RAGFT_TEST_KEY", "sk-wrong-judge-key-5678")
    with Server("judge") as s:
        cfg = config(s.base_url, concurrency=1)
        with pytest.raises(LLMError) as err:
            run_judge(cfg, tmp_path)
    message = str(err.value)
    assert "refused the key (401)" in message and "$RAGFT_TEST_KEY" in message
    assert "(metrics.judge.endpoint.api_key_env names the variable)" in message
    assert "sk-wrong-judge-key-5678" not in message
    # 401 is not retried and the judge stops at the first error: the failed request, and at
    # most the one the single worker had already picked up when it failed
    assert 1 <= len(s.log) <= 2 < len(ITEMS)
    assert journalled(journal_path(tmp_path, cfg, {})) == 0


@pytest.mark.measures("bad_input")
def test_a_judge_that_never_gives_a_rating_leaves_every_item_missing(key, tally, tmp_path):
    tally.bad_input()
    with Server("no-rating") as s:
        cfg = replace(config(s.base_url), max_attempts=3)
        got, path = run_judge(cfg, tmp_path)
    assert got.ratings == [None] * len(ITEMS) and 0 not in got.ratings
    assert got.missing == len(ITEMS) and got.attempts == [3] * len(ITEMS)
    # bounded: one request per item and attempt, each a different request
    assert len(s.log) == got.requests_sent == len(ITEMS) * cfg.max_attempts
    assert len(set(s.answered())) == len(s.log)
    assert journalled(path) == len(ITEMS) * cfg.max_attempts
    made: list = []
    again, _ = run_judge(cfg, tmp_path, made)  # a re-run asks nothing again
    assert (again.ratings, again.requests_sent, made) == (got.ratings, 0, [])


def test_json_ratings_come_back_and_a_rerun_sends_nothing(key, tmp_path):
    with Server("judge") as s:
        cfg = config(s.base_url)
        made: list = []
        got, _ = run_judge(cfg, tmp_path, made)
        assert got.ratings == [9, 2, 9] and got.attempts == [1, 1, 1] and made == [1]
        assert got.explanations[1] == "The answer does not say what the reference says."
        assert (got.tokens_in, got.tokens_out) == (30, 15)
        sent = len(s.log)
        again, _ = run_judge(cfg, tmp_path, made)
        assert again.ratings == got.ratings and len(s.log) == sent == 3
    assert (again.requests_sent, again.from_journal, made) == (0, 3, [1])  # never built again


def test_an_mt_bench_rating_in_prose_is_read(key, tmp_path):
    with Server("judge-text") as s:
        got, _ = run_judge(config(s.base_url), tmp_path)
    assert got.ratings == [9, 2, 9] and len(s.log) == 3
    assert got.explanations[0] == "The answer says what the reference says."


def test_a_reply_without_a_rating_is_asked_again_with_a_different_request(key, tmp_path):
    with Server("no-rating-then-judge", fail_first=1) as s:
        got, _ = run_judge(config(s.base_url, concurrency=1), tmp_path)
    assert got.ratings == [9, 2, 9] and sorted(got.attempts) == [1, 1, 2]
    assert len(s.log) == 4 and len(set(s.answered())) == 4
