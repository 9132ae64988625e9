"""Reading a sweep's cell folders: status, axes (approaches.AXES + applies), labels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ragft.approaches import APPROACHES, AXES, applies
from ragft.errors import RagftError
from ragft.report import NA, load_cells, newest_sweep
from ragft.report.axes import axis_values

from .report_sweeps import N_QUESTIONS, config, edit_results, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture


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
    assert cells[5].scores == {} and cells[6].scores == {} and cells[6].result is None
    assert rag.scores["contains"] == pytest.approx(0.7) and rag.n_eval == N_QUESTIONS
    assert rag.primary_metric == "contains" and rag.cost.figure("total_seconds") == 9.5


def test_axes_follow_the_one_rule_of_approaches():
    for name, approach in APPROACHES.items():
        values = axis_values(config(name), name)
        assert list(values) == list(AXES)  # every axis, in AXES order
        for axis, value in values.items():
            assert (value == NA) == (not applies(axis, approach)), (name, axis)
    unknown = axis_values(config("rag"), "?")  # a folder that names no approach
    assert unknown["approach"] is None and NA not in unknown.values()
    full = axis_values({**config("finetune"), "lora": {"name": "none"}}, "finetune")
    assert full["lora"] == "full"


def test_cache_hits_count_the_training_time_they_saved(tmp_path: Path):
    s = new_sweep(tmp_path)
    d = write_cell(s, 0, "approach=hybrid", "hybrid", 5, train_seconds=0.0)
    edit_results(d, cost={"train_cache_hit": True, "train_seconds_saved": 33.3})
    write_cell(s, 1, "approach=finetune", "finetune", 5, train_seconds=40.0)
    write_cell(s, 2, "approach=base", "base", 5)
    assert [c.train_seconds for c in load_cells(s)] == [33.3, 40.0, None]


def test_unreadable_and_unnamed_cells(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=base", "base", 1)
    write_cell(s, 1, "approach=base,retriever=dense", "base", 1)  # the same label as job 0
    (s / "2_approach=rag").mkdir()
    (s / "2_approach=rag" / "results.json").write_text("{not json")
    (s / "3_approach=rag").mkdir()
    (s / "3_approach=rag" / "results.json").write_text("[1, 2]")
    d = s / "4_approach=finetune,lora.r=64"
    d.mkdir()
    lora = {"name": "default", "r": 8}  # not the folder name's 64: config.json wins
    (d / "config.json").write_text(json.dumps({"approach": {"name": "finetune"}, "lora": lora}))
    d = s / "5_x"
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "config.yaml").write_text("approach:\n  name: raft\nlora:\n  r: 2\n")
    d = s / "old-cell"  # no job number, an older results.json without "status"
    d.mkdir()
    (d / "results.json").write_text(json.dumps({"approach": "rag", "scores": {"f1": 0.5}}))
    (s / "notes").mkdir()  # neither a job number nor results.json: not a cell
    cells = load_cells(s)
    assert [c.dir.name for c in cells][-1] == "old-cell" and len(cells) == 7
    assert [c.status for c in cells] == ["ok", "ok", "failed", "failed", "missing", "missing", "ok"]
    assert cells[0].label == "base #0" and cells[1].label == "base #1"
    assert cells[2].error.startswith("unreadable results.json") and cells[2].approach == "rag"
    assert cells[3].error.startswith("unreadable results.json")
    assert cells[4].axes["lora"] == 8 and cells[4].approach == "finetune"  # from config.json
    assert cells[5].approach == "raft" and cells[5].axes["lora"] == 2  # from .hydra
    assert cells[6].ok and cells[6].scores == {"f1": 0.5} and cells[6].job == 10**9


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
        load_cells(tmp_path)
    with pytest.raises(RagftError, match="does not exist"):
        load_cells(tmp_path / "absent")
