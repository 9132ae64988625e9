"""The control set: general questions the embedded base model answers correctly, asked in
every cell (`metrics.control=true`) to show what fine-tuning forgets and what irrelevant
retrieved passages do to a model that knew the answer.

- `control`: the cell's `contains` on the set, asked the way the cell asks its own questions
  (a retrieval cell with the passages its retriever finds in the cell's corpus, a trained
  cell by its trained model);
- `control_base`: the untrained model's, closed-book, computed once per (model, quant, prompt,
  generation settings, set) and cached (kind "control-base");
- `control_drop` = control_base - control: above 0, the cell lost general knowledge.

The shipped set (`ragft/data/control.jsonl`) keeps only the candidates
(`experiments/control/candidates.jsonl`) that SmolLM2-135M-Instruct answers correctly
closed-book; `scripts/control_measure.py` rebuilds it and experiments/control/README.md has
the measurement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ragft.cache import Cache
from ragft.config import GenerationConfig
from ragft.data.jsonl import IdRegistry, get_str, get_str_list, read_jsonl
from ragft.errors import DataError
from ragft.metrics import contains
from ragft.types import Prediction, QAExample

SHIPPED = Path(__file__).parent / "data" / "control.jsonl"


def load_set(path: str | None = None) -> tuple[QAExample, ...]:
    """The control questions: rows {"id", "question", "answers": [...]} of `path` (None: the
    shipped set). Every row needs an answer; an empty file is an error, not a score of 0."""
    source = Path(path).expanduser() if path else SHIPPED
    if not source.is_file():
        raise DataError(f"metrics.control_path={str(source)!r} is not a file")
    if not source.read_bytes().strip():
        raise DataError(_EMPTY.format(source=source))
    ids = IdRegistry(source)
    out = []
    for line, row in read_jsonl(source):
        where = f"{source}:{line}"
        id_ = get_str(row, "id", where)
        ids.add(id_, line)
        out.append(QAExample(id=f"control/{id_}", question=get_str(row, "question", where),
                             answers=get_str_list(row, "answers", where)))  # fmt: skip
    return tuple(out)


_EMPTY = (
    "the control set {source} has no questions; give metrics.control_path a JSONL file of "
    '{{"id", "question", "answers": [...]}} rows, or metrics.control=false'
)


def score(predictions: Sequence[Prediction]) -> float:
    """The share of control questions answered correctly (`contains`)."""
    return sum(contains(p.answer, p.example.answers) for p in predictions) / len(predictions)


def scores(cell: float, base: float) -> dict[str, float]:
    return {"control": cell, "control_base": base, "control_drop": base - cell}


def base_key(questions: Sequence[QAExample], **settings: Any) -> dict[str, Any]:
    """What decides the base model's control score: the set and the settings given (model,
    quant, prompt, generation: their config records)."""
    parts = {k: _generation_key(v) if isinstance(v, GenerationConfig)
             else asdict(v) if hasattr(v, "__dataclass_fields__") else v
             for k, v in settings.items()}  # fmt: skip
    parts["set"] = [(q.id, q.question, *q.answers) for q in questions]
    return parts


def _generation_key(g: GenerationConfig) -> dict[str, Any]:
    """What of the generation settings decides a stored answer outside a cell (the control
    base score): a served model by its URL and name; the options that came in after such
    keys were first stored are left out at their defaults, so those keys stay valid."""
    key = asdict(g)
    endpoint = key.pop("endpoint")
    if g.backend == "openai":
        key["endpoint"] = {"base_url": endpoint["base_url"], "model": endpoint["model"]}
    for name, before in (("backend", "local"), ("batching", "static")):
        if key[name] == before:
            del key[name]
    return key


def base_score(cache: Cache, key: dict[str, Any], compute: Callable[[], float]) -> float:
    """The base model's control score: `compute()` once per key, then from the cache."""

    def build(folder: Path) -> None:
        (folder / "score.json").write_text(json.dumps({"score": compute()}) + "\n")

    entry, _ = cache.get_or_build("control-base", key, build)
    return float(json.loads((entry / "score.json").read_text())["score"])
