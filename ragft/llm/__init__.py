"""Language-model backends behind one verb: `complete(requests) -> replies`.

A `Request` is a chat (system + user message) with an optional JSON schema its reply must
satisfy; a `Reply` holds the text, the parsed JSON (None when it did not parse or did not
satisfy the schema, with the reason in `error`) and the tokens spent. Backends:

- `hf` (`ragft/llm/hf.py`): a local transformers model, batched, JSON-schema-constrained
  decoding with xgrammar, so every reply parses;
- `openai` (`ragft/llm/endpoint.py`): the `openai` client against any OpenAI-compatible
  endpoint, bounded concurrency, retries with backoff, schema validation always; a request
  with a rendered `prompt` goes to the endpoint's /v1/completions as it is (`ragft.served`).

`journal.Journal` makes any backend resumable: a finished request is never sent again.
The data generator (`ragft/datagen/`) and the judge use these; they never see which backend
answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragft.cache import hash_key
from ragft.errors import RagftError


class LLMError(RagftError):
    """An endpoint or model that cannot answer: refused, unauthorised, unknown, out of retries."""


@dataclass(frozen=True)
class Request:
    """One chat turn to complete, or (`prompt`) a text already rendered with the model's chat
    template, to continue as it is (an endpoint's /v1/completions). `key` identifies it
    (resume, journal)."""

    system: str
    user: str
    schema: dict[str, Any] | None = None
    max_tokens: int = 256
    prompt: str | None = None

    @property
    def key(self) -> str:
        parts = {"s": self.system, "u": self.user, "j": self.schema, "m": self.max_tokens}
        if self.prompt is not None:
            parts["p"] = self.prompt
        return hash_key(parts)

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, {"role": "user", "content": self.user}]


@dataclass(frozen=True)
class Reply:
    """A completion: text, the parsed JSON when valid, or why not (`error`)."""

    text: str
    data: Any = None
    error: str = ""  # "" | "invalid_json" | "schema: <what>"
    tokens_in: int = 0
    tokens_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "data": self.data,
            "error": self.error,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Reply:
        return cls(**{k: row[k] for k in ("text", "data", "error", "tokens_in", "tokens_out")})


class Backend(Protocol):
    """What the data generator and the judge call. (What decides a backend's replies is
    its config, which `datagen.identity` keys the cache on.)"""

    def complete(
        self, requests: Sequence[Request], on_reply: Callable[[int, Reply], None] | None = None
    ) -> list[Reply]:
        """Replies in request order; `on_reply(i, reply)` as each one arrives."""
        ...


def parse_reply(
    text: str, schema: dict[str, Any] | None, tokens_in: int = 0, tokens_out: int = 0
) -> Reply:
    """`text` as a Reply: parsed and checked against `schema` (jsonschema) when one is given."""
    if schema is None:
        return Reply(text, None, "", tokens_in, tokens_out)
    try:
        data = json.loads(_strip_fence(text))
    except ValueError:
        return Reply(text, None, "invalid_json", tokens_in, tokens_out)
    import jsonschema

    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as e:
        return Reply(text, None, f"schema: {e.message}"[:200], tokens_in, tokens_out)
    return Reply(text, data, "", tokens_in, tokens_out)


def _strip_fence(text: str) -> str:
    """Servers without structured output often wrap JSON in a ```json fence; take what is inside."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t.strip()
