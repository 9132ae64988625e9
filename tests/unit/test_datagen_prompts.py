"""The generator's requests: what each asks, schemas that bound every string and array (so a
constrained decoder always closes its document within the request's token budget), and
schemas that accept a good reply and refuse a bad one."""

from __future__ import annotations

import jsonschema
import pytest

from ragft.datagen import prompts
from ragft.datagen.prompts import SYSTEM, Record, budget
from ragft.llm import Request

TEXT = "Lake Baikal in Siberia is the deepest lake, at 1642 metres."
TYPES = {"factual_question": "a question asking for one fact", "list": "a request to list"}


def strings(schema: dict) -> list[dict]:
    """Every string node of a schema."""
    out = [schema] if schema.get("type") == "string" else []
    for key in ("properties",):
        for sub in schema.get(key, {}).values():
            out += strings(sub)
    if "items" in schema:
        out += strings(schema["items"])
    return out


def arrays(schema: dict) -> list[dict]:
    out = [schema] if schema.get("type") == "array" else []
    for sub in schema.get("properties", {}).values():
        out += arrays(sub)
    return out + (arrays(schema["items"]) if "items" in schema else [])


def test_budget_covers_two_tokens_per_character_plus_structure():
    assert budget(1, 10) == 1 * (2 * 10 + 12) + 24 == 56
    assert budget(6, 300) == 6 * 612 + 24
    assert budget(2, 0) == 48


def test_the_types_request_lists_every_type_and_quotes_the_text():
    r = prompts.types_request(TEXT, TYPES, 2)
    assert r.system == SYSTEM and isinstance(r, Request)
    assert "- factual_question: a question asking for one fact\n- list: a request to list" in r.user
    assert f"Text:\n{TEXT}\n\n" in r.user and "Pick at most 2, at least one." in r.user
    items = r.schema["properties"]["types"]
    assert items == {"type": "array", "items": {"enum": ["factual_question", "list"]},
                     "minItems": 1, "maxItems": 2, "uniqueItems": True}  # fmt: skip
    assert r.schema["required"] == ["types"] and r.schema["additionalProperties"] is False
    assert r.max_tokens == budget(2, 24)
    jsonschema.validate({"types": ["list"]}, r.schema)
    bad_replies = [
        {"types": []},
        {"types": ["list", "list"]},
        {"types": ["poem"]},
        {"types": ["list", "factual_question", "list"]},
        {"types": ["list"], "x": 1},
    ]
    for bad in bad_replies:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, r.schema)


def test_the_records_request_names_the_type_and_bounds_each_field():
    r = prompts.records_request(TEXT, "list", "a request to list", 3, 80)
    assert "Write 3 instruction record(s) of type 'list': a request to list." in r.user
    assert f"Text:\n{TEXT}\n\n" in r.user
    record = r.schema["properties"]["records"]
    assert (record["minItems"], record["maxItems"]) == (1, 3)
    assert record["items"]["required"] == ["instruction", "input", "output"]
    assert record["items"]["additionalProperties"] is False
    assert all(s["maxLength"] == 80 for s in strings(r.schema))
    assert r.max_tokens == budget(9, 80)
    good = {"records": [{"instruction": "How deep?", "input": "", "output": "1642 metres"}]}
    jsonschema.validate(good, r.schema)
    for bad in (
        {"records": []},
        {"records": [{"instruction": "", "input": "", "output": "x"}]},  # empty instruction
        {"records": [{"instruction": "q", "input": "", "output": ""}]},  # empty answer
        {"records": [{"instruction": "q", "output": "a"}]},  # input missing
        {"records": [{"instruction": "q" * 81, "input": "", "output": "a"}]},
        {"records": [good["records"][0]] * 4},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, r.schema)


def test_the_paraphrase_request_keeps_the_question_and_bounds_the_list():
    r = prompts.paraphrase_request("How deep is Lake Baikal?", 2, 50)
    assert "Rewrite this question in 2 different way(s)." in r.user
    assert "Question: How deep is Lake Baikal?\n" in r.user
    p = r.schema["properties"]["paraphrases"]
    assert (p["minItems"], p["maxItems"], p["items"]["maxLength"]) == (1, 2, 50)
    assert r.max_tokens == budget(2, 50)
    jsonschema.validate({"paraphrases": ["What is the depth of Lake Baikal?"]}, r.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"paraphrases": ["a", "b", "c"]}, r.schema)


def test_every_schema_bounds_all_its_strings_and_arrays():
    for r in (prompts.types_request(TEXT, TYPES, 2),
              prompts.records_request(TEXT, "list", "x", 2, 40),
              prompts.paraphrase_request("q?", 3, 40)):  # fmt: skip
        assert all("maxLength" in s for s in strings(r.schema))
        assert all("maxItems" in a for a in arrays(r.schema)) and arrays(r.schema)


def test_a_request_is_a_system_and_a_user_message():
    assert Request("sys", "hi").messages() == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
    ]
    assert Request("", "hi").messages() == [{"role": "user", "content": "hi"}]


def test_a_record_question_adds_its_input_when_there_is_one():
    r = Record("Summarise:", "  ", "a", "t", "d", "d#0")
    assert r.question == "Summarise:"
    assert Record("Summarise:", "The text.", "a", "t", "d", "d#0").question == (
        "Summarise:\n\nThe text."
    )


# The exact words each model is given: a changed prompt is a changed experiment.


def test_the_system_prompt_in_full():
    assert SYSTEM == (
        "You write training and evaluation data from technical documents. Use only facts "
        "stated in the text you are given. Reply with JSON only."
    )


def test_the_types_prompt_in_full():
    assert prompts.types_request(TEXT, TYPES, 2).user == (
        "Which of these instruction types can be answered from the text below? Pick at most "
        "2, at least one.\n\n"
        "- factual_question: a question asking for one fact\n- list: a request to list\n\n"
        f"Text:\n{TEXT}\n\n"
        'Reply as {"types": [...]} using the names above.'
    )


def test_the_records_prompt_and_schema_in_full():
    r = prompts.records_request(TEXT, "list", "a request to list", 2, 80)
    assert r.user == (
        "Write 2 instruction record(s) of type 'list': a request to list.\n"
        "Each record has an instruction (the question or task, understandable without the "
        "text), an input (extra material the instruction needs, usually empty) and an output "
        "(the answer, using the text's own words).\n\n"
        f"Text:\n{TEXT}\n\n"
        'Reply as {"records": [{"instruction": ..., "input": ..., "output": ...}]}.'
    )
    field = {"type": "string", "minLength": 1, "maxLength": 80}
    assert r.schema == {
        "type": "object",
        "properties": {
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "instruction": field,
                        "input": {"type": "string", "maxLength": 80},
                        "output": field,
                    },
                    "required": ["instruction", "input", "output"],
                    "additionalProperties": False,
                },
                "minItems": 1,
                "maxItems": 2,
            }
        },
        "required": ["records"],
        "additionalProperties": False,
    }
    assert r.system == SYSTEM


def test_the_paraphrase_prompt_and_schema_in_full():
    r = prompts.paraphrase_request("How deep is Lake Baikal?", 2, 50)
    assert r.user == (
        "Rewrite this question in 2 different way(s). Keep its meaning and every name in it; "
        "change the wording.\n\nQuestion: How deep is Lake Baikal?\n\n"
        'Reply as {"paraphrases": [...]}.'
    )
    assert r.schema == {
        "type": "object",
        "properties": {
            "paraphrases": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 50},
                "minItems": 1,
                "maxItems": 2,
            }
        },
        "required": ["paraphrases"],
        "additionalProperties": False,
    }
    assert r.system == SYSTEM
    t = prompts.types_request(TEXT, TYPES, 2)
    assert t.system == SYSTEM and t.schema["type"] == "object"
