"""ragft.data.jsonl: reading JSONL and checking fields, errors that name file, line and field."""

from __future__ import annotations

import pytest

from ragft.data.jsonl import IdRegistry, get_id, get_str, get_str_list, read_jsonl

from ..helpers import raises_exactly

WHERE = "qa.jsonl:3"
LIST = "(expected a non-empty list of non-empty strings)"


# ---------------------------------------------------------------- read_jsonl


@pytest.mark.parametrize(
    "line,kind",
    [
        ("null", "null"),
        ("true", "a boolean"),
        ("3.5", "a number"),
        ('"text"', "a string"),
        ("[1, 2]", "a list"),
    ],
)
def test_read_jsonl_names_the_kind_of_a_non_object_line(tmp_path, line, kind):
    p = tmp_path / "rows.jsonl"
    p.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
    with raises_exactly(f"{p}:2: expected a JSON object, got {kind}"):
        read_jsonl(p)


def test_read_jsonl_counts_lines_to_a_bad_byte_from_the_first_byte(tmp_path):
    p = tmp_path / "rows.jsonl"
    p.write_bytes(b'\n{"a": "caf\xe9"}\n')  # line 1 is blank
    with raises_exactly(f"{p}:2: not UTF-8 (byte 0xe9); save the file as UTF-8"):
        read_jsonl(p)


# ---------------------------------------------------------------- get_str


@pytest.mark.parametrize(
    "value,kind",
    [(5, "a number"), (True, "a boolean"), (["a"], "a list"), ({"a": 1}, "an object")],
)
def test_get_str_names_the_kind_of_a_non_string(value, kind):
    with raises_exactly(f"{WHERE}: field 'question' is {kind} (expected a non-empty string)"):
        get_str({"question": value}, "question", WHERE)


def test_get_str_missing_empty_and_optional():
    with raises_exactly(f"{WHERE}: field 'question' is missing (expected a non-empty string)"):
        get_str({}, "question", WHERE)
    with raises_exactly(f"{WHERE}: field 'question' is empty (expected a non-empty string)"):
        get_str({"question": " \t"}, "question", WHERE)
    assert get_str({"title": None}, "title", WHERE, required=False) is None
    assert get_str({"title": "T"}, "title", WHERE, required=False) == "T"


# ---------------------------------------------------------------- get_str_list


def test_get_str_list_missing_when_required_or_not():
    with raises_exactly(f"{WHERE}: field 'answers' is missing {LIST}"):
        get_str_list({}, "answers", WHERE)
    assert get_str_list({}, "gold_doc_ids", WHERE, required=False) == ()
    assert get_str_list({"gold_doc_ids": []}, "gold_doc_ids", WHERE, required=False) == ()


@pytest.mark.parametrize(
    "value,message",
    [
        (5, f"field 'answers' is a number {LIST}"),
        ({"a": "b"}, f"field 'answers' is an object {LIST}"),
        ([], f"field 'answers' is an empty list {LIST}"),
        (["a", 5], f"field 'answers' item 1 is a number {LIST}"),
        ([None], f"field 'answers' item 0 is null {LIST}"),
        (["a", "b", " "], f"field 'answers' item 2 is empty {LIST}"),
    ],
)
def test_get_str_list_rejects(value, message):
    with raises_exactly(f"{WHERE}: {message}"):
        get_str_list({"answers": value}, "answers", WHERE)


def test_get_str_list_single_string_shows_its_first_20_characters_as_a_list():
    value = "abcdefghijklmnopqrstuvwxyz"
    with raises_exactly(
        f"{WHERE}: field 'answers' must be a list of strings, not a single string "
        '(expected e.g. ["abcdefghijklmnopqrst"])'
    ):
        get_str_list({"answers": value}, "answers", WHERE)


def test_get_str_list_returns_a_tuple_in_order():
    assert get_str_list({"answers": ["b", "a"]}, "answers", WHERE) == ("b", "a")


# ---------------------------------------------------------------- get_id


def test_get_id_accepts_strings_and_integers_and_defaults():
    assert get_id({"id": "x"}, WHERE, None) == "x"
    assert get_id({"id": 7}, WHERE, None) == "7"
    assert get_id({}, WHERE, "line3") == "line3"


@pytest.mark.parametrize(
    "row,message",
    [
        ({}, "field 'id' is missing (expected a string or an integer)"),
        ({"id": "  "}, "field 'id' is empty (expected a string or an integer)"),
        ({"id": True}, "field 'id' is a boolean (expected a string or an integer)"),
        ({"id": [1]}, "field 'id' is a list (expected a string or an integer)"),
    ],
)
def test_get_id_rejects(row, message):
    with raises_exactly(f"{WHERE}: {message}"):
        get_id(row, WHERE, None)


# ---------------------------------------------------------------- IdRegistry


def test_id_registry_names_both_lines_of_a_duplicate():
    ids = IdRegistry("c.jsonl")
    ids.add("a", 1)
    ids.add("b", 2)
    with raises_exactly("c.jsonl:5: duplicate id 'a' (also on line 1); ids must be unique"):
        ids.add("a", 5)


def test_id_registry_remembers_what_it_has_seen():
    ids = IdRegistry("c.jsonl")
    ids.add("a", 1)
    ids.add("a", 1)  # the same line again is not a duplicate
    assert "a" in ids
    assert "b" not in ids
