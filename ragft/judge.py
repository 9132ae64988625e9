"""The LLM judge (`metrics.judge`): MT-Bench single-answer grading of each answer against its
reference, on a 1..`scale` scale, through any `ragft/llm/` backend.

One verb, `judge(items, cfg, make_backend, journal_path)`; the rest are pure helpers.

- The request (`request_for`) asks for `{"explanation", "rating"}` under a JSON schema (the
  hf backend's decoding is constrained to it; an endpoint's reply is checked against it).
- The rating (`rating_of`): the schema's `rating` when the reply satisfied it; else the last
  `[[n]]` in the text (MT-Bench's own format, "Rating: [[7]]"); else the last `"rating": n`
  (JSON that broke the schema only elsewhere, e.g. a too-long explanation). Only integers
  1..scale count: "[[7.0]]" is 7, but "[[7.5]]" is no rating (the scale has no halves, and
  rounding would pick a side the judge did not), nor is "[[0]]" or "[[11]]" on 1..10.
- A reply without a rating is asked again with a reminder naming the attempt (replies are
  greedy: the same request would get the same reply), up to `cfg.max_attempts`, then the
  item is recorded missing (None), never 0.
- Every request goes through a request journal (`journal_path`: one file per judge config),
  so a re-run, or a replayed cell, sends no request already answered, and a fully journalled
  run never builds its backend (no server contacted, no model loaded).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragft.cache import hash_key
from ragft.config import JudgeConfig, ModelConfig
from ragft.llm import Backend, Reply, Request
from ragft.llm.journal import Journal
from ragft.progress import bar as progress_bar

FORMAT = 1  # bump when the judge's requests change for the same config
EXPLANATION_CHARS = 300  # the schema's maxLength, and what `rating_of` keeps of prose
BRACKETED = re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]")
RATING_KEY = re.compile(r'"rating"\s*:\s*(-?\d+(?:\.\d+)?)')


@dataclass(frozen=True)
class JudgeItem:
    """One answer to rate: the question, the reference answer, the answer given."""

    question: str
    reference: str
    answer: str


@dataclass(frozen=True)
class Judgement:
    """The judge's verdicts, in the order of the items asked about."""

    ratings: list[int | None]  # 1..scale, None: no rating after every attempt (never 0)
    explanations: list[str]
    attempts: list[int]  # requests it took per item (1 = the first reply had a rating)
    requests_sent: int  # to the backend now (duplicates and journalled requests not counted)
    from_journal: int  # distinct requests answered from the journal
    seconds: float
    tokens_in: int = 0  # of the requests sent now
    tokens_out: int = 0

    @property
    def missing(self) -> int:
        return sum(r is None for r in self.ratings)


def schema(scale: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": EXPLANATION_CHARS},
            "rating": {"type": "integer", "minimum": 1, "maximum": scale},
        },
        "required": ["explanation", "rating"],
        "additionalProperties": False,
    }


def request_for(item: JudgeItem, cfg: JudgeConfig, attempt: int = 0) -> Request:
    """The request for `item`'s `attempt`-th try (0: the first); later tries carry a reminder,
    so each try is a different request (and journal key)."""
    user = cfg.template.format(
        question=item.question, reference=item.reference, answer=item.answer, scale=cfg.scale
    )
    if attempt > 0:
        user += (
            f"\n\nAttempt {attempt + 1}: your previous reply had no rating. "
            "Reply with the JSON only."
        )
    return Request(cfg.system, user, schema(cfg.scale), cfg.max_tokens)


def rating_of(reply: Reply, scale: int) -> tuple[int | None, str]:
    """(the rating, or None if the reply holds none in 1..scale; the explanation, truncated)."""
    data = reply.data if isinstance(reply.data, dict) else None
    if data is not None and not reply.error:
        rating = _integer(data.get("rating"), scale)
        if rating is not None:
            return rating, str(data.get("explanation", ""))[:EXPLANATION_CHARS]
    text = reply.text or ""
    for pattern in (BRACKETED, RATING_KEY):
        found = pattern.findall(text)
        if found:
            return _integer(float(found[-1]), scale), _explanation(text)
    return None, _explanation(text)


def _integer(value: object, scale: int) -> int | None:
    """`value` as a rating: a whole number in 1..scale (7.0 is 7; 7.5, True, "7" are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= scale:
        return None
    return int(value)


def _explanation(text: str) -> str:
    """The prose of a reply, without its rating mark, on one line."""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("explanation"), str):
            text = data["explanation"]
    except ValueError:
        text = BRACKETED.sub("", text).replace("Rating:", "")
    return " ".join(text.split())[:EXPLANATION_CHARS]


def normalised(rating: int | None, scale: int) -> float | None:
    """A rating on 0..1: 1 -> 0.0, scale -> 1.0; missing stays None."""
    return None if rating is None else (rating - 1) / (scale - 1)


def judge_model(cfg: JudgeConfig, model: ModelConfig) -> ModelConfig:
    """The hf judge's model: the folder `cfg.path`, loaded like the cell's model (its dtype,
    chat template, input limit), or the cell's own (base) model when no path is given."""
    if cfg.path is None:
        return model
    return dataclasses.replace(model, name="judge", source="hf", path=cfg.path, package=None,
                               gguf_file=None, revision=None)  # fmt: skip


def journal_path(cache_root: Path, cfg: JudgeConfig, model_identity: dict) -> Path:
    """The judge's request journal: one file per config that decides its replies (backend,
    model, endpoint, scale, prompts, max_tokens), never concurrency or timeouts.

    `model_identity` is what decides the hf judge model's replies (e.g. `asdict` of
    `judge_model(...)` and the quant config); it is ignored for an endpoint.
    """
    parts: dict[str, Any] = {
        "format": FORMAT,
        "backend": cfg.backend,
        "scale": cfg.scale,
        "system": cfg.system,
        "template": cfg.template,
        "max_tokens": cfg.max_tokens,
    }
    if cfg.backend == "hf":
        parts["model"] = {"path": cfg.path, "identity": model_identity}
    if cfg.backend == "openai":
        e = cfg.endpoint
        parts["endpoint"] = {"base_url": e.base_url, "model": e.model, "max_tokens": e.max_tokens}
    return Path(cache_root) / "judge-journal" / f"{hash_key(parts)}.jsonl"


class _Lazy:
    """A backend built on its first request only."""

    def __init__(self, make: Callable[[], Backend]):
        self.make, self.backend, self.builds = make, None, 0

    def complete(self, requests, on_reply=None) -> list[Reply]:
        if self.backend is None:
            self.backend = self.make()
            self.builds += 1
        return self.backend.complete(requests, on_reply)


def judge(
    items: Sequence[JudgeItem],
    cfg: JudgeConfig,
    make_backend: Callable[[], Backend],
    journal_path: Path,
    progress: bool = True,
) -> Judgement:
    """Rate every item (duplicates asked once); see the module docstring for the rules."""
    t0 = time.perf_counter()
    unique = list(dict.fromkeys(items))
    journal, backend = Journal(journal_path), _Lazy(make_backend)
    verdict: dict[JudgeItem, tuple[int | None, str, int]] = {}
    sent = resumed = tokens_in = tokens_out = 0
    bar = progress_bar(len(unique), "judge", "answer", disable=not progress)
    pending = unique
    for attempt in range(max(1, cfg.max_attempts)):
        if not pending:
            break
        requests = [request_for(item, cfg, attempt) for item in pending]
        new = {r.key for r in requests} - set(journal.replies)
        last = attempt + 1 >= cfg.max_attempts

        def arrived(i: int, reply: Reply, last: bool = last) -> None:
            if last or rating_of(reply, cfg.scale)[0] is not None:
                bar.update(1)

        replies, n_sent, n_resumed = journal.complete(backend, requests, arrived)
        sent, resumed = sent + n_sent, resumed + n_resumed
        for key in new:
            tokens_in += journal.replies[key].tokens_in
            tokens_out += journal.replies[key].tokens_out
        for item, reply in zip(pending, replies, strict=True):
            rating, why = rating_of(reply, cfg.scale)
            verdict[item] = (rating, why, attempt + 1)
        pending = [item for item in pending if verdict[item][0] is None]
    bar.close()
    rows = [verdict[item] for item in items]
    return Judgement(
        ratings=[r for r, _, _ in rows],
        explanations=[w for _, w, _ in rows],
        attempts=[a for _, _, a in rows],
        requests_sent=sent,
        from_journal=resumed,
        seconds=round(time.perf_counter() - t0, 3),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
