"""ragft.control: the shipped control set, `load_set`'s errors, the control scores, and the base
model's control score computed once per key and then read from the cache."""

from __future__ import annotations

import json

import pytest

from ragft import control
from ragft.cache import Cache, hash_key
from ragft.config import GenerationConfig, ModelConfig, PromptConfig
from ragft.errors import DataError
from ragft.types import Prediction, QAExample

from ..helpers import write_jsonl


def pred(answer: str, answers: tuple[str, ...]) -> Prediction:
    ex = QAExample(id=f"control/{answer}", question="?", answers=answers)
    return Prediction(example=ex, prompt="", answer=answer)


# ---------------------------------------------------------------- the shipped set


def test_the_shipped_set_loads_with_answers_prefixed_unique_ids_and_enough_questions():
    questions = control.load_set()
    assert len(questions) >= 40
    assert all(q.answers and all(a.strip() for a in q.answers) for q in questions)
    assert all(q.id.startswith("control/") for q in questions)
    assert len({q.id for q in questions}) == len(questions)
    assert all(q.question.strip() for q in questions)


def test_the_shipped_set_is_the_file_next_to_the_module_row_for_row():
    rows = [json.loads(line) for line in control.SHIPPED.read_text().splitlines() if line.strip()]
    questions = control.load_set(None)
    assert [q.id for q in questions] == [f"control/{r['id']}" for r in rows]
    assert [q.answers for q in questions] == [tuple(r["answers"]) for r in rows]
    assert control.load_set(str(control.SHIPPED)) == questions


# ---------------------------------------------------------------- load_set


def test_load_set_reads_a_users_file(tmp_path):
    p = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "question": "Capital of France?", "answers": ["Paris"]},
            {"id": "b", "question": "Two plus two?", "answers": ["4", "four"]},
        ],
    )
    assert control.load_set(str(p)) == (
        QAExample(id="control/a", question="Capital of France?", answers=("Paris",)),
        QAExample(id="control/b", question="Two plus two?", answers=("4", "four")),
    )


def test_a_missing_file_is_an_error_naming_metrics_control_path(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataError, match="metrics.control_path=.*nope.jsonl.* is not a file"):
        control.load_set(str(missing))
    with pytest.raises(DataError, match="metrics.control_path=.* is not a file"):
        control.load_set(str(tmp_path))  # a folder is not a file either


def test_an_empty_file_is_an_error_not_a_score_of_zero(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("\n \n")
    with pytest.raises(DataError, match="empty.jsonl"):
        control.load_set(str(p))


def test_an_empty_file_says_the_control_set_has_no_questions_and_names_the_key(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    with pytest.raises(DataError) as info:
        control.load_set(str(p))
    assert "has no questions" in str(info.value)
    assert "metrics.control_path" in str(info.value)


def test_a_row_without_answers_is_an_error_naming_file_and_line(tmp_path):
    p = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "question": "Capital of France?", "answers": ["Paris"]},
            {"id": "b", "question": "Two plus two?"},
        ],
    )
    with pytest.raises(DataError, match=r"c\.jsonl:2: field 'answers' is missing"):
        control.load_set(str(p))


def test_a_row_with_an_empty_answer_list_is_an_error(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "question": "Q?", "answers": []}])
    with pytest.raises(DataError, match=r"c\.jsonl:1: field 'answers' is an empty list"):
        control.load_set(str(p))


def test_duplicate_ids_are_an_error(tmp_path):
    row = {"id": "a", "question": "Q?", "answers": ["x"]}
    p = write_jsonl(tmp_path / "c.jsonl", [row, row])
    with pytest.raises(DataError, match="duplicate id 'a'"):
        control.load_set(str(p))


# ---------------------------------------------------------------- score, scores


def test_score_is_the_share_answered_correctly_by_contains():
    preds = [
        pred("It is Paris.", ("Paris",)),
        pred("Lyon", ("Paris",)),
        pred("tokyo", ("Tokyo", "Edo")),
        pred("Parisian", ("Paris",)),  # whole tokens only
    ]
    assert control.score(preds) == 0.5
    assert control.score(preds[:1]) == 1.0
    assert control.score(preds[1:2]) == 0.0


def test_scores_drop_is_base_minus_cell():
    assert control.scores(0.5, 0.75) == {
        "control": 0.5,
        "control_base": 0.75,
        "control_drop": 0.25,
    }


def test_scores_drop_may_be_negative_when_the_cell_does_better():
    got = control.scores(0.9, 0.6)
    assert got["control"] == 0.9 and got["control_base"] == 0.6
    assert got["control_drop"] == pytest.approx(-0.3)


# ---------------------------------------------------------------- base_key, base_score

SET = (
    QAExample(id="control/a", question="Capital of France?", answers=("Paris",)),
    QAExample(id="control/b", question="Two plus two?", answers=("4", "four")),
)


def key(questions=SET, **changes):
    settings = {"model": ModelConfig(), "prompt": PromptConfig(), "generation": GenerationConfig()}
    settings.update(changes)
    return control.base_key(questions, **settings)


def test_base_key_holds_the_set_and_the_settings_as_plain_data():
    k = key()
    assert k["set"] == [
        ("control/a", "Capital of France?", "Paris"),
        ("control/b", "Two plus two?", "4", "four"),
    ]
    assert k["generation"] == {"max_new_tokens": 24, "batch_size": 16}
    assert k["prompt"]["name"] == "default"
    assert control.base_key(SET, seed=3)["seed"] == 3  # a plain value stays as it is
    assert hash_key(key()) == hash_key(key())


@pytest.mark.parametrize(
    "other",
    [
        {"questions": SET[:1]},
        {
            "questions": (
                SET[0],
                QAExample(id="control/b", question="Two plus two?", answers=("4",)),
            )
        },
        {
            "questions": (
                SET[0],
                QAExample(id="control/b", question="2 + 2?", answers=("4", "four")),
            )
        },
        {"questions": (SET[1], SET[0])},
        {"generation": GenerationConfig(max_new_tokens=8)},
        {"prompt": PromptConfig(abstain=True)},
        {"model": ModelConfig(name="other")},
    ],
)
def test_base_key_changes_with_the_set_or_a_setting(other):
    assert hash_key(key(**other)) != hash_key(key())


class Counted:
    def __init__(self, value: float):
        self.value, self.calls = value, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.value


def test_base_score_computes_once_then_reads_the_cache(tmp_path):
    cache = Cache(tmp_path)
    compute = Counted(0.8125)
    assert control.base_score(cache, key(), compute) == 0.8125
    assert control.base_score(cache, key(), compute) == 0.8125
    assert compute.calls == 1
    # a new Cache object on the same folder (another cell, a re-run) reads the same entry
    again = Counted(0.0)
    assert control.base_score(Cache(tmp_path), key(), again) == 0.8125
    assert again.calls == 0
    entries = [p for p in (tmp_path / "control-base").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1


def test_base_score_computes_again_for_another_key(tmp_path):
    cache = Cache(tmp_path)
    first, second = Counted(0.5), Counted(0.25)
    assert control.base_score(cache, key(), first) == 0.5
    other = key(generation=GenerationConfig(max_new_tokens=8))
    assert control.base_score(cache, other, second) == 0.25
    assert (first.calls, second.calls) == (1, 1)
    assert control.base_score(cache, key(), second) == 0.5  # the first key's entry is kept
    assert second.calls == 1
