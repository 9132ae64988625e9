"""Hand-written sweep folders for the report's tests, and a reader for its Markdown tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

N_QUESTIONS = 10


def config(approach: str, r: int = 16, retriever: str = "bm25", k: int = 3) -> dict:
    return {
        "approach": {"name": approach},
        "model": {"name": "tiny-llama"},
        "lora": {"name": "default", "r": r},
        "quant": {"name": "none"},
        "retriever": {"name": retriever, "k": k},
        "data": {"name": "fictional-kb", "n_train_phrasings": 2, "eval_split": "heldout"},
        "seed": 0,
    }


def write_cell(
    sweep: Path,
    job: int,
    name: str,
    approach: str,
    hits: int | None = None,
    *,
    r: int = 16,
    retriever: str = "bm25",
    error: str | None = None,
    train_seconds: float | None = None,
) -> Path:
    """One cell folder; `hits` of the N_QUESTIONS questions answered right (contains = 1)."""
    d = sweep / f"{job}_{name}"
    d.mkdir(parents=True)
    cfg = config(approach, r=r, retriever=retriever)
    if error is not None:
        results = {
            "status": "failed",
            "error": error,
            "approach": approach,
            "name": name,
            "config": cfg,
        }
        (d / "results.json").write_text(json.dumps(results))
        return d
    if hits is None:  # started, never finished: only Hydra's own files
        (d / ".hydra").mkdir()
        return d
    contains = [1.0 if i < hits else 0.0 for i in range(N_QUESTIONS)]
    rows = [
        {
            "id": f"q{i}",
            "question": f"question {i}?",
            "golds": ["x"],
            "prediction": "x" if c else "y",
            "metrics": {"exact_match": c, "f1": c / 2 + 0.25, "contains": c},
        }
        for i, c in enumerate(contains)
    ]
    (d / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    mean = sum(contains) / N_QUESTIONS
    cost = {"generate_seconds": 1.0, "seconds_per_question": 0.1 * (job + 1), "total_seconds": 9.5}
    if train_seconds is not None:
        cost.update(train_seconds=train_seconds, trainable_parameters=12345, adapter_mb=0.5)
    results = {
        "status": "ok",
        "approach": approach,
        "name": name,
        "group": "sweep",
        "scores": {"exact_match": mean, "f1": mean / 2 + 0.25, "contains": mean},
        "primary_metric": "contains",
        "n_eval": N_QUESTIONS,
        "n_train": 20,
        "cost": cost,
        "config": cfg,
    }
    (d / "results.json").write_text(json.dumps(results))
    return d


def edit_results(cell_dir: Path, **changes: object) -> None:
    """Change top-level fields of a cell's results.json ("cost" and "config" are merged)."""
    path = cell_dir / "results.json"
    results = json.loads(path.read_text())
    for key, value in changes.items():
        if key in ("cost", "config") and isinstance(value, dict):
            results[key] = {**results.get(key, {}), **value}
        else:
            results[key] = value
    path.write_text(json.dumps(results))


def new_sweep(root: Path) -> Path:
    s = root / "multirun" / "2026-01-01" / "10-00-00"
    s.mkdir(parents=True)
    (s / "multirun.yaml").write_text("hydra: {}\n")
    return s


def make_sweep(root: Path) -> Path:
    """base, rag, finetune r=4 and r=16, hybrid r=16, a failed and a missing cell."""
    s = new_sweep(root)
    write_cell(s, 0, "approach=base", "base", 2)
    write_cell(s, 1, "approach=rag", "rag", 7)
    write_cell(s, 2, "approach=finetune,lora.r=4", "finetune", 3, r=4, train_seconds=30.0)
    write_cell(s, 3, "approach=finetune,lora.r=16", "finetune", 5, r=16, train_seconds=40.0)
    write_cell(s, 4, "approach=hybrid,lora.r=16", "hybrid", 9, r=16, train_seconds=40.0)
    write_cell(
        s,
        5,
        "approach=rag,retriever=dense",
        "rag",
        retriever="dense",
        error="ModelError: no embedder at /nonexistent/embedder",
    )
    write_cell(s, 6, "approach=raft,lora.r=16", "raft")  # no results.json: missing
    return s


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sweep(tmp_path_factory.mktemp("sweep"))


_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def md_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in `text`: its rows (header, rule, body), each a list of cell texts.

    Cells are stripped of the padding that aligns the columns; `\\|` stays escaped.
    """
    tables: list[list[list[str]]] = []
    in_table = False
    for line in text.splitlines():
        is_row = line.startswith("|") and line.endswith("|")
        if is_row:
            row = [c.strip() for c in _UNESCAPED_PIPE.split(line[1:-1])]
            if not in_table:
                tables.append([])
            tables[-1].append(row)
        in_table = is_row
    return tables


def md_table(text: str) -> dict[str, list[str]]:
    """The first Markdown table in `text` as {column: its body cells}, checking its shape."""
    rows = md_tables(text)[0]
    header, rule, body = rows[0], rows[1], rows[2:]
    assert all(re.fullmatch(r":?-{3,}:?", c) for c in rule), rule
    assert all(len(row) == len(header) for row in rows), "ragged Markdown table"
    return {col: [row[i] for row in body] for i, col in enumerate(header)}


def md_alignment(text: str) -> dict[str, str]:
    """The first Markdown table's {column: "right" | "left"}, from its rule line."""
    header, rule = md_tables(text)[0][:2]
    pairs = zip(header, rule, strict=True)
    return {col: "right" if r.endswith(":") else "left" for col, r in pairs}
