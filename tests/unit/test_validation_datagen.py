"""The generation stage's rules (data=generated, generate.py): the exact message for each bad
value, the boundaries that are still fine, and the endpoint's settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragft.config import DataConfig, DatagenConfig, EmbedderConfig, EndpointConfig, RunConfig
from ragft.validation.datagen import datagen_rule

TYPES = {"factual_question": "a fact", "list": "a list", "steps": "a procedure"}


def problems(data: str = "generated", endpoint: dict | None = None, **keys) -> list[str]:
    gen = replace(DatagenConfig(types=dict(TYPES)), **keys)
    if endpoint is not None:
        gen = replace(gen, endpoint=replace(EndpointConfig(model="served"), **endpoint))
    return datagen_rule(RunConfig(data=DataConfig(name=data), datagen=gen), None)


def test_the_defaults_are_fine_and_other_data_is_not_checked():
    assert problems() == []
    assert problems(backend="hf") == []
    assert problems(backend="openai", endpoint={}) == []
    assert problems(data="fictional-kb", backend="nonsense") == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"backend": "gpt"}, "datagen.backend='gpt' is not allowed; choose one of: "
                             "extractive, hf, openai"),
        ({"split": "random"}, "datagen.split='random' is not allowed; choose one of: "
                              "by_question, by_document"),
        ({"per_type": 0}, "datagen.per_type=0 must be positive"),
        ({"max_types": 0}, "datagen.max_types=0 must be positive"),
        ({"max_answer_words": 0}, "datagen.max_answer_words=0 must be positive"),
        ({"max_field_chars": 0}, "datagen.max_field_chars=0 must be positive"),
        ({"batch_size": 0}, "datagen.batch_size=0 must be positive"),
        ({"chunk_words": 19}, "datagen.chunk_words=19 must be >= 20 words"),
        ({"max_chunks": 0}, "datagen.max_chunks=0 must be positive"),
        ({"paraphrases": -1}, "datagen.paraphrases=-1 must be between 0 and 10"),
        ({"paraphrases": 11}, "datagen.paraphrases=11 must be between 0 and 10"),
        ({"grounding": 1.1}, "datagen.grounding=1.1 must be in [0, 1]"),
        ({"grounding": -0.1}, "datagen.grounding=-0.1 must be in [0, 1]"),
        ({"eval_fraction": 0.0}, "datagen.eval_fraction=0.0 must be in (0, 1)"),
        ({"eval_fraction": 1.0}, "datagen.eval_fraction=1.0 must be in (0, 1)"),
        ({"leak_threshold": 0.0}, "datagen.leak_threshold=0.0 must be in (0, 1]"),
        ({"leak_threshold": 1.5}, "datagen.leak_threshold=1.5 must be in (0, 1]"),
        ({"near_duplicate": 0.0}, "datagen.near_duplicate=0.0 must be in (0, 1], or null for "
                                  "exact duplicates only"),
        ({"price_per_1k_input": -1.0}, "datagen.price_per_1k_input=-1.0 must be >= 0 (or null)"),
        ({"price_per_1k_output": -2.0}, "datagen.price_per_1k_output=-2.0 must be >= 0 (or null)"),
        ({"backend": "hf", "types": {}}, "datagen.backend=hf needs instruction types "
                                         "(datagen.types)"),
        ({"backend": "hf", "max_types": 4}, "datagen.max_types=4 is more than the 3 types"),
        ({"embedder": EmbedderConfig(package="no_such_embedder_pkg")},
         "datagen.embedder.package='no_such_embedder_pkg'"),
    ],
)  # fmt: skip
def test_each_bad_value_is_one_problem(keys, message):
    (problem,) = problems(**keys)
    assert problem.startswith(message)


def test_boundaries_that_are_still_fine():
    ok = dict(chunk_words=20, max_chunks=1, paraphrases=10, grounding=1.0, eval_fraction=0.01,
              leak_threshold=1.0, near_duplicate=None, price_per_1k_input=0.0,
              price_per_1k_output=0.0, backend="hf", max_types=3)  # fmt: skip
    assert problems(**ok) == []
    assert problems(paraphrases=0, grounding=0.0, near_duplicate=1.0) == []
    # the extractive backend uses no types
    assert problems(types={}, max_types=9) == []
    assert problems(embedder=EmbedderConfig(package="no_such_pkg", path="/some/folder")) == []


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "datagen.endpoint.base_url='127.0.0.1:8000/v1' must "
                                            "start with http:// or https://"),
        ({"model": None}, "datagen.endpoint.model is required: the name the server serves"),
        ({"model": ""}, "datagen.endpoint.model is required"),
        ({"concurrency": 0}, "datagen.endpoint.concurrency=0 must be 1-64"),
        ({"concurrency": 65}, "datagen.endpoint.concurrency=65 must be 1-64"),
        ({"max_retries": -1}, "datagen.endpoint.max_retries=-1 must be 0-10"),
        ({"max_retries": 11}, "datagen.endpoint.max_retries=11 must be 0-10"),
        ({"timeout": 0.0}, "datagen.endpoint.timeout=0.0 must be positive"),
        ({"api_key_env": "sk-abc123"}, "datagen.endpoint.api_key_env='sk-abc123' must be the "
                                       "*name* of an environment variable"),
        ({"api_key_env": ""}, "datagen.endpoint.api_key_env='' must be the *name*"),
        ({"api_key_env": "1KEY"}, "datagen.endpoint.api_key_env='1KEY' must be the *name*"),
        ({"api_key_env": "MY-KEY"}, "datagen.endpoint.api_key_env='MY-KEY' must be the *name*"),
    ],
)  # fmt: skip
def test_each_bad_endpoint_setting_is_one_problem(endpoint, message):
    (problem,) = problems(backend="openai", endpoint=endpoint)
    assert problem.startswith(message)


def test_endpoint_boundaries_that_are_still_fine():
    ok = {"base_url": "https://api.example.com/v1", "concurrency": 64, "max_retries": 10,
          "api_key_env": "MY_KEY_2"}  # fmt: skip
    assert problems(backend="openai", endpoint=ok) == []
    assert problems(backend="openai", endpoint={"api_key_env": "_K"}) == []
    assert problems(backend="openai", endpoint={"concurrency": 1, "max_retries": 0}) == []
    # endpoint settings are not checked for other backends
    assert problems(backend="hf", endpoint={"concurrency": 0}) == []


def test_the_key_variable_message_in_full():
    assert problems(backend="openai", endpoint={"api_key_env": "sk-1"}) == [
        "datagen.endpoint.api_key_env='sk-1' must be the *name* of an environment variable "
        "(e.g. OPENAI_API_KEY), not the key"
    ]


def test_every_problem_is_listed_together():
    assert len(problems(per_type=0, split="x", grounding=2.0)) == 3


def test_a_lower_case_variable_name_is_a_name():
    assert problems(backend="openai", endpoint={"api_key_env": "my_key"}) == []
