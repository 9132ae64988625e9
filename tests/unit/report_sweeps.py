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


def crag_scores(contains: list[float], abstained: list[bool], unanswerable: list[bool]) -> dict:
    """The abstention scores as cells compute them (CRAG: right +1, abstained 0, wrong -1).

    `unanswerable`: the abstention flags of the unanswerable questions.
    """
    ans = ["missing" if a else "correct" if c == 1 else "hallucinated"
           for c, a in zip(contains, abstained, strict=True)]  # fmt: skip
    unans = ["correct" if a else "hallucinated" for a in unanswerable]
    outs, flags = ans + unans, [*abstained, *unanswerable]

    def rates(o: list[str], f: list[bool]) -> tuple[float, float, float]:
        n = len(o)
        return o.count("correct") / n, sum(f) / n, o.count("hallucinated") / n

    acc, rate, hall = rates(outs, flags)
    scores = {"accuracy": acc, "abstain_rate": rate, "hallucination_rate": hall,
              "crag": acc - hall}  # fmt: skip
    acc, rate, hall = rates(ans, list(abstained))
    scores.update(answerable_accuracy=acc, answerable_abstain_rate=rate,
                  answerable_hallucination_rate=hall)  # fmt: skip
    if unanswerable:
        _, rate, hall = rates(unans, list(unanswerable))
        scores.update(unanswerable_abstain_rate=rate, unanswerable_hallucination_rate=hall)
    return scores


def write_eval_cell(
    sweep: Path,
    job: int,
    name: str,
    approach: str,
    contains: list[float],
    *,
    judge: list[int | None] | None = None,
    scale: int = 10,
    abstained: list[bool] | None = None,
    unanswerable: list[bool] | None = None,
    control: tuple[float, float] | None = None,
    record_evaluation: bool = True,
    r: int = 16,
) -> Path:
    """A cell with the richer evaluation, in the format cells write.

    `contains` per answerable question q0, q1, ...; `judge` its 1..scale ratings (None: the
    judge gave none); `abstained` which answerable answers abstained; `unanswerable` the
    abstention flags of the unanswerable questions u0, u1, ...; `control` (cell, base).
    `record_evaluation=False` leaves results.json's "evaluation" out (an older writer).
    """
    trained = approach in ("finetune", "hybrid", "raft")
    d = write_cell(sweep, job, name, approach, 1, r=r, train_seconds=10.0 if trained else None)
    with_abstention = abstained is not None or unanswerable is not None
    abstained = abstained if abstained is not None else [False] * len(contains)
    unanswerable = list(unanswerable or [])
    rows, evaluation, norm = [], {}, []
    for i, c in enumerate(contains):
        row = {"id": f"q{i}", "question": f"question {i}?", "golds": ["x", "ex"],
               "prediction": "x" if c else "y", "answerable": True,
               "metrics": {"exact_match": c, "f1": c, "contains": c}}  # fmt: skip
        if with_abstention:
            row["abstained"] = abstained[i]
        if judge is not None:
            rating = judge[i]
            row["judge"] = {"rating": rating, "explanation": "fine", "attempts": 1}
            if rating is not None:
                row["metrics"]["judge"] = (rating - 1) / (scale - 1)
                norm.append((rating - 1) / (scale - 1))
        rows.append(row)
    for i, a in enumerate(unanswerable):
        rows.append({"id": f"u{i}", "question": f"who is nobody {i}?", "golds": [],
                     "prediction": "I don't know" if a else "Bob", "answerable": False,
                     "abstained": a, "metrics": {}})  # fmt: skip
    (d / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    mean = sum(contains) / len(contains)
    scores = {"exact_match": mean, "f1": mean, "contains": mean}
    if judge is not None:
        scores["judge"] = sum(norm) / len(norm)
        rated = len(norm)
        evaluation["judge"] = {"backend": "openai", "scale": scale, "rated": rated,
                               "missing": len(judge) - rated, "requests_sent": len(judge),
                               "from_journal": 0}  # fmt: skip
    if with_abstention:
        scores.update(crag_scores(contains, abstained, unanswerable))
        evaluation["abstention"] = {"n_answerable": len(contains),
                                    "n_unanswerable": len(unanswerable)}  # fmt: skip
    if control is not None:
        scores.update(control=control[0], control_base=control[1],
                      control_drop=control[1] - control[0])  # fmt: skip
        evaluation["control"] = {"n": 20, "base_score": control[1]}
    changes: dict = {"scores": scores, "n_eval": len(rows)}
    if record_evaluation:
        changes["evaluation"] = evaluation
    edit_results(d, **changes)
    return d


# The eval sweep's per-question figures (answerable q0..q9), fixed so tests can recompute.
EVAL_CONTAINS = {
    "base": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    "rag": [1, 1, 0, 1, 1, 1, 1, 0, 0, 0],
    "finetune": [1, 0, 1, 1, 0, 1, 0, 0, 1, 0],
}
EVAL_JUDGE = {
    "base": [9, 8, 7, 2, 3, 1, 4, 2, 1, None],
    "rag": [10, 7, 3, 9, 8, 6, 9, 2, 5, 1],
    "finetune": [6, 2, 8, 7, 5, 9, None, 1, 7, 4],
}
EVAL_ABSTAINED = {
    "base": [False, False, False, True, True, False, False, False, False, False],
    "rag": [False] * 7 + [True, True, False],
    "finetune": [False] * 10,
}
EVAL_UNANSWERABLE = {"base": [True, False], "rag": [True, True], "finetune": [False, False]}
EVAL_CONTROL = {"base": (0.9, 0.9), "rag": (0.8, 0.9), "finetune": (0.6, 0.9)}


def make_eval_sweep(root: Path) -> Path:
    """base, rag and finetune with judge, abstention and control scores (EVAL_* above)."""
    s = new_sweep(root)
    names = {"base": "approach=base", "rag": "approach=rag", "finetune": "approach=finetune"}
    for job, (approach, name) in enumerate(names.items()):
        write_eval_cell(
            s,
            job,
            name,
            approach,
            [float(c) for c in EVAL_CONTAINS[approach]],
            judge=EVAL_JUDGE[approach],
            abstained=EVAL_ABSTAINED[approach],
            unanswerable=EVAL_UNANSWERABLE[approach],
            control=EVAL_CONTROL[approach],
        )
    return s


@pytest.fixture(scope="module")
def eval_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_eval_sweep(tmp_path_factory.mktemp("eval_sweep"))


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
