"""The judge's rules (`metrics.judge`): the exact message for each bad value, the boundaries
that are still fine, the hf judge's folder and the endpoint's settings; and that `validate`
runs them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragft.config import EndpointConfig, JudgeConfig, MetricsConfig, RunConfig
from ragft.errors import ConfigError
from ragft.validation import validate
from ragft.validation.judge import judge_rule


def run_with(endpoint: dict | None = None, **keys) -> RunConfig:
    judge = replace(JudgeConfig(endpoint=EndpointConfig(model="served")), **keys)
    if endpoint is not None:
        judge = replace(judge, endpoint=replace(judge.endpoint, **endpoint))
    return RunConfig(metrics=MetricsConfig(judge=judge))


def problems(endpoint: dict | None = None, **keys) -> list[str]:
    return judge_rule(run_with(endpoint, **keys), None)


def model_folder(tmp_path):
    folder = tmp_path / "judge-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


def test_the_defaults_are_fine_and_an_unused_judge_is_not_checked(tmp_path):
    assert problems() == []  # backend=none
    assert problems(backend="openai") == []
    assert problems(backend="hf") == []  # the cell's own model
    assert problems(backend="hf", path=str(model_folder(tmp_path))) == []
    assert problems(backend="none", scale=0, template="", path="/nonexistent") == []
    assert problems(backend="openai", scale=2, max_attempts=1) == []  # the boundaries


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"backend": "gpt4"}, "metrics.judge.backend='gpt4' is not allowed; choose one of: "
                              "none, hf, openai"),
        ({"scale": 1}, "metrics.judge.scale=1 must be >= 2 (ratings run from 1 to scale)"),
        ({"scale": 0}, "metrics.judge.scale=0 must be >= 2"),
        ({"max_attempts": 0}, "metrics.judge.max_attempts=0 must be >= 1"),
        ({"max_tokens": 0}, "metrics.judge.max_tokens=0 must be positive"),
        ({"batch_size": 0}, "metrics.judge.batch_size=0 must be positive"),
        ({"template": "Rate {answer} against {reference}."},
         "metrics.judge.template must contain {question} (the judge is shown each answer's "
         "question, reference and answer)"),
        ({"template": "Rate it."},
         "metrics.judge.template must contain {question}, {reference}, {answer}"),
        ({"template": "{question} {reference} {answer} {judge}"},
         "metrics.judge.template does not format (KeyError: 'judge'); its only placeholders "
         "are {question}, {reference}, {answer} and {scale}; write other braces doubled"),
        ({"template": '{question} {reference} {answer} as {"rating": 7}'},
         "metrics.judge.template does not format (KeyError: '\"rating\"')"),
        ({"template": "{question} {reference} {answer} {"},
         "metrics.judge.template does not format (ValueError: "),
        ({"template": "{question} {reference} {answer} {0}"},
         "metrics.judge.template does not format (IndexError: "),
    ],
)  # fmt: skip
def test_each_bad_value_gets_its_message(keys, message):
    got = problems(**{"backend": "openai", **keys})
    assert len(got) == 1 and got[0].startswith(message), got


def test_an_hf_judge_path_that_is_not_a_folder_is_named(tmp_path):
    missing = str(tmp_path / "no-such-model")
    assert problems(backend="hf", path=missing) == [
        f"metrics.judge.path={missing!r} is not a folder; give a local Hugging Face model "
        "folder (config.json + weights), or null to judge with the cell's own model"
    ]
    a_file = tmp_path / "weights.bin"
    a_file.write_text("x")
    assert problems(backend="hf", path=str(a_file))[0].startswith(
        f"metrics.judge.path={str(a_file)!r} is not a folder"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert problems(backend="hf", path=str(empty)) == [
        f"metrics.judge.path={str(empty)!r} holds no config.json; give a Hugging Face model folder"
    ]
    assert problems(backend="openai", path=missing) == []  # the path is the hf judge's only


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "metrics.judge.endpoint.base_url='127.0.0.1:8000/v1' "
                                            "must start with http:// or https://"),
        ({"base_url": "ftp://host/v1"}, "metrics.judge.endpoint.base_url='ftp://host/v1' must"),
        ({"model": None}, "metrics.judge.endpoint.model is required: the name the server serves "
                          "the model under"),
        ({"model": ""}, "metrics.judge.endpoint.model is required"),
        ({"concurrency": 0}, "metrics.judge.endpoint.concurrency=0 must be 1-64"),
        ({"max_retries": 11}, "metrics.judge.endpoint.max_retries=11 must be 0-10"),
        ({"timeout": 0.0}, "metrics.judge.endpoint.timeout=0.0 must be positive"),
        ({"max_tokens": 0}, "metrics.judge.endpoint.max_tokens=0 must be positive"),
        ({"api_key_env": "sk-abc123"}, "metrics.judge.endpoint.api_key_env='sk-abc123' must be "
                                       "the *name* of an environment variable"),
    ],
)  # fmt: skip
def test_the_endpoint_settings_are_checked_for_an_openai_judge(endpoint, message):
    got = problems(endpoint, backend="openai")
    assert len(got) == 1 and got[0].startswith(message), got
    assert problems(endpoint, backend="hf") == []  # an hf judge has no endpoint


def test_validate_runs_the_judge_rule_with_the_others(tmp_path):
    run = run_with({"model": None}, backend="openai", scale=1)
    with pytest.raises(ConfigError) as err:
        validate(replace(run, seed=-1))
    text = str(err.value)
    for part in ("seed=-1", "metrics.judge.scale=1", "metrics.judge.endpoint.model is required"):
        assert part in text
