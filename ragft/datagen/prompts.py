"""The generator's requests and their JSON schemas (pure): step 1 picks the instruction types
that suit a chunk, step 2 writes records of one type, and paraphrase rewrites a question.

Every string and array in a schema is bounded, so a constrained decoder closes the document
within `budget(...)` tokens (a JSON string character can take two tokens: an escape).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ragft.llm import Request

SYSTEM = (
    "You write training and evaluation data from technical documents. Use only facts stated "
    "in the text you are given. Reply with JSON only."
)


@dataclass(frozen=True)
class Record:
    """One generated instruction record, with where it came from.

    `extractive`: the output is a span of the source chunk. `fact` groups the records that ask
    for the same fact (same chunk, same normalised answer), which the by_question split keeps
    apart between train and eval.
    """

    instruction: str
    input: str
    output: str
    type: str
    doc_id: str
    chunk_id: str
    extractive: bool = False
    fact: str = ""

    @property
    def question(self) -> str:
        return f"{self.instruction}\n\n{self.input}" if self.input.strip() else self.instruction


def budget(n_strings: int, max_chars: int) -> int:
    """Tokens that always suffice for a document of `n_strings` strings of `max_chars` each."""
    return n_strings * (2 * max_chars + 12) + 24


def _string(max_chars: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_chars}


def types_request(text: str, types: Mapping[str, str], max_types: int) -> Request:
    listing = "\n".join(f"- {name}: {what}" for name, what in types.items())
    schema = {
        "type": "object",
        "properties": {
            "types": {
                "type": "array",
                "items": {"enum": list(types)},
                "minItems": 1,
                "maxItems": max_types,
                "uniqueItems": True,
            }
        },
        "required": ["types"],
        "additionalProperties": False,
    }
    user = (
        f"Which of these instruction types can be answered from the text below? Pick at most "
        f"{max_types}, at least one.\n\n{listing}\n\nText:\n{text}\n\n"
        'Reply as {"types": [...]} using the names above.'
    )
    return Request(SYSTEM, user, schema, budget(max_types, 24))


def records_request(text: str, type_name: str, what: str, n: int, max_chars: int) -> Request:
    record = {
        "type": "object",
        "properties": {
            "instruction": _string(max_chars),
            "input": {"type": "string", "maxLength": max_chars},
            "output": _string(max_chars),
        },
        "required": ["instruction", "input", "output"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"records": {"type": "array", "items": record, "minItems": 1, "maxItems": n}},
        "required": ["records"],
        "additionalProperties": False,
    }
    user = (
        f"Write {n} instruction record(s) of type {type_name!r}: {what}.\n"
        "Each record has an instruction (the question or task, understandable without the "
        "text), an input (extra material the instruction needs, usually empty) and an output "
        "(the answer, using the text's own words).\n\n"
        f"Text:\n{text}\n\n"
        'Reply as {"records": [{"instruction": ..., "input": ..., "output": ...}]}.'
    )
    return Request(SYSTEM, user, schema, budget(3 * n, max_chars))


def paraphrase_request(question: str, k: int, max_chars: int) -> Request:
    schema = {
        "type": "object",
        "properties": {
            "paraphrases": {
                "type": "array",
                "items": _string(max_chars),
                "minItems": 1,
                "maxItems": k,
            }
        },
        "required": ["paraphrases"],
        "additionalProperties": False,
    }
    user = (
        f"Rewrite this question in {k} different way(s). Keep its meaning and every name "
        f"in it; change the wording.\n\nQuestion: {question}\n\n"
        'Reply as {"paraphrases": [...]}.'
    )
    return Request(SYSTEM, user, schema, budget(k, max_chars))
