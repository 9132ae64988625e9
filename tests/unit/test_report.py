"""The sweep report on a hand-written sweep folder: table, report.md/.csv, plots, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ragft.errors import RagftError
from ragft.report import (
    NA,
    Report,
    build_report,
    load_cells,
    newest_sweep,
    paired_difference,
    paired_differences,
    plot_paired_differences,
    plot_scores,
    plot_vs_cost,
    plot_vs_lora_rank,
    table,
)

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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


def new_sweep(root: Path) -> Path:
    s = root / "multirun" / "2026-01-01" / "10-00-00"
    s.mkdir(parents=True)
    (s / "multirun.yaml").write_text("hydra: {}\n")
    return s


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base, rag, finetune r=4 and r=16, hybrid r=16, a failed and a missing cell."""
    s = new_sweep(tmp_path_factory.mktemp("sweep"))
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
def built(sweep: Path) -> Report:
    return build_report(sweep)  # once: plotting is most of this file's time


def test_cells_are_read_in_job_order_with_labels_from_the_varying_axes(sweep: Path):
    cells = load_cells(sweep)
    assert [c.job for c in cells] == list(range(7))
    assert [c.status for c in cells] == ["ok"] * 5 + ["failed", "missing"]
    labels = [c.label for c in cells]
    # the retriever varies (the failed cell used dense), so cells that retrieve name theirs
    assert labels[:5] == ["base", "rag bm25", "finetune r=4", "finetune r=16", "hybrid r=16 bm25"]
    assert labels[5:] == ["rag dense", "raft r=16"]  # the missing cell: from its folder name
    base, rag, ft4 = cells[:3]
    assert base.axes["lora"] == NA and base.axes["retriever"] == NA
    assert rag.axes["lora"] == NA and rag.axes["retriever"] == "bm25" and rag.axes["k"] == 3
    assert ft4.axes["lora"] == 4 and ft4.axes["retriever"] == NA
    assert rag.per_question("contains") == {f"q{i}": float(i < 7) for i in range(N_QUESTIONS)}
    assert "/nonexistent/embedder" in cells[5].error
    assert "results.json" in cells[6].error


def test_table_has_one_row_per_cell_with_percentages(sweep: Path):
    df = table(load_cells(sweep))
    assert len(df) == 7
    for col in ("approach", "model", "lora_r", "quant", "retriever", "k", "status", "error"):
        assert col in df.columns
    for col in ("exact_match", "f1", "contains", "train_seconds", "seconds_per_question"):
        assert col in df.columns
    assert df["contains"].tolist()[:5] == [20.0, 70.0, 30.0, 50.0, 90.0]
    assert df["f1"].iloc[1] == 60.0  # 0.7 / 2 + 0.25, in %
    assert df["contains"].iloc[5:].isna().all()
    assert df["status"].tolist()[-2:] == ["failed", "missing"]
    assert df["lora_r"].tolist()[:5] == [NA, NA, 4, 16, 16]
    assert df["train_seconds"].iloc[2] == 30.0


def test_build_report_writes_markdown_csv_and_plots(sweep: Path, built: Report):
    rep = built
    out = sweep / "report"
    assert rep.markdown_path == out / "report.md" and rep.csv_path == out / "report.csv"
    assert (rep.n_ok, rep.n_failed, rep.n_missing) == (5, 1, 1)
    md = rep.markdown_path.read_text()
    assert str(sweep) in md and "| cell |" in md and "| 90.0 |" in md
    assert "model `tiny-llama`" in md  # the same in every cell: said once, not a column
    failed_section = md.split("## Failed cells", 1)[1]
    assert "5_approach=rag,retriever=dense" in failed_section and "**failed**" in failed_section
    assert "/nonexistent/embedder" in failed_section
    assert "6_approach=raft,lora.r=16" in failed_section and "**missing**" in failed_section
    df = pd.read_csv(rep.csv_path)
    assert len(df) == 7 and df["contains"].iloc[4] == 90.0
    assert {p.name for p in rep.plots} == {
        "scores.png",
        "score_vs_lora_rank.png",
        "score_vs_cost.png",
        "paired_differences.png",
    }
    for p in rep.plots:
        assert p.parent == out
        assert f"]({p.name})" in md  # embedded with a relative link
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert not list(out.glob("*.tmp"))


def test_plots_are_skipped_without_what_they_need(sweep: Path, tmp_path: Path):
    cells = load_cells(sweep)
    one_rank = [c for c in cells if c.axes["lora"] != 4]
    assert plot_vs_lora_rank(one_rank, "contains", tmp_path / "r.png") is None
    nothing_ok = [c for c in cells if not c.ok]
    for fn in (plot_scores, plot_vs_cost, plot_paired_differences, plot_vs_lora_rank):
        assert fn(nothing_ok, "contains", tmp_path / "x.png") is None
    assert plot_paired_differences(cells[:1], "contains", tmp_path / "p.png") is None
    assert not list(tmp_path.glob("*.png"))


def test_a_skipped_plot_leaves_no_stale_file(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=finetune", "finetune", 4, train_seconds=5.0)
    stale = s / "report" / "score_vs_lora_rank.png"
    stale.parent.mkdir()
    stale.write_bytes(PNG_MAGIC)  # from an earlier report, when the sweep had two ranks
    rep = build_report(s)
    assert [p.name for p in rep.plots] == ["scores.png", "score_vs_cost.png"]
    assert not stale.exists() and "score_vs_lora_rank" not in rep.markdown
    assert "None: every cell finished." in rep.markdown


def test_paired_difference_on_hand_made_values():
    ref = {f"q{i}": 0.0 for i in range(8)}
    other = {f"q{i}": 1.0 for i in range(8)}
    d = paired_difference(ref, other)
    assert (d.mean, d.low, d.high, d.n) == (1.0, 1.0, 1.0, 8)
    # only questions both answered; a constant shift of +0.5 has a degenerate CI
    d = paired_difference({"a": 0.0, "b": 0.5, "c": 1.0}, {"b": 1.0, "c": 1.5, "z": 9.0})
    assert (d.mean, d.low, d.high, d.n) == (0.5, 0.5, 0.5, 2)
    d = paired_difference({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 0.0})
    assert d.mean == 0.5 and 0.0 <= d.low <= 0.5 <= d.high <= 1.0
    with pytest.raises(ValueError, match="both"):
        paired_difference({"a": 1.0}, {"b": 1.0})


def test_paired_differences_use_the_base_cell_as_reference(sweep: Path):
    ref, diffs = paired_differences(load_cells(sweep), "contains")
    assert ref is not None and ref.approach == "base"
    by_label = {c.label: d for c, d in diffs}
    assert set(by_label) == {"rag bm25", "finetune r=4", "finetune r=16", "hybrid r=16 bm25"}
    rag = by_label["rag bm25"]
    assert rag.mean == pytest.approx(0.5) and rag.n == N_QUESTIONS
    assert by_label["hybrid r=16 bm25"].low > 0  # 7 more of 10 right, none worse


def test_newest_sweep_picks_the_latest_started(tmp_path: Path):
    root = tmp_path / "multirun"
    old, new = root / "2026-01-01" / "09-00-00", root / "2026-01-02" / "08-00-00"
    for i, d in enumerate((new, old)):
        d.mkdir(parents=True)
        (d / "multirun.yaml").write_text("{}\n")
        os.utime(d / "multirun.yaml", (1_000_000 + i * 100, 1_000_000 + i * 100))
    assert newest_sweep(root) == old  # written last, whatever the folder names say
    os.utime(new / "multirun.yaml", (2_000_000, 2_000_000))
    assert newest_sweep(root) == new
    with pytest.raises(RagftError, match="does not exist"):
        newest_sweep(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RagftError, match="multirun.yaml"):
        newest_sweep(tmp_path / "empty")


def test_an_empty_sweep_is_an_error(tmp_path: Path):
    with pytest.raises(RagftError, match="no cell folders"):
        build_report(tmp_path)
    with pytest.raises(RagftError, match="does not exist"):
        build_report(tmp_path / "absent")


def test_unknown_metric_is_an_error(sweep: Path, tmp_path: Path):
    with pytest.raises(RagftError, match="available: exact_match, f1, contains"):
        build_report(sweep, tmp_path, metric="accuracy")


def test_cli_prints_the_table_and_paths(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", 7)  # one cell: two plots, a quick test
    script = str(ROOT / "scripts" / "report.py")
    res = subprocess.run(  # no argument: the newest sweep under ./multirun
        [sys.executable, script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "| cell |" in res.stdout and "| rag | rag |" in res.stdout and "| 70.0 |" in res.stdout
    report_md = s.relative_to(tmp_path) / "report" / "report.md"
    assert f"report: {report_md}" in res.stdout
    assert "plot:   " in res.stdout and (tmp_path / report_md).is_file()

    (tmp_path / "empty").mkdir()
    res = subprocess.run(
        [sys.executable, script, str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("report: error: no cell folders")
    assert len(res.stderr.strip().splitlines()) == 1
