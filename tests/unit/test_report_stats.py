"""Paired bootstrap differences between cells, and the reference cell they are against."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragft.report import load_cells, paired_difference, paired_differences, reference_cell

from .report_sweeps import N_QUESTIONS, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture


def test_paired_difference_on_hand_made_values():
    ref = {f"q{i}": 0.0 for i in range(8)}
    other = {f"q{i}": 1.0 for i in range(8)}
    d = paired_difference(ref, other)
    assert (d.mean, d.low, d.high, d.n) == (1.0, 1.0, 1.0, 8)
    assert d.verdict == "better"
    # only questions both answered; a constant shift of +0.5 has a degenerate CI
    d = paired_difference({"a": 0.0, "b": 0.5, "c": 1.0}, {"b": 1.0, "c": 1.5, "z": 9.0})
    assert (d.mean, d.low, d.high, d.n) == (0.5, 0.5, 0.5, 2)
    d = paired_difference({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 0.0})
    assert d.mean == 0.5 and 0.0 <= d.low <= 0.5 <= d.high <= 1.0
    assert d.verdict == "no clear difference"
    assert paired_difference(other, ref).verdict == "worse"
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


def test_without_base_the_first_ok_cell_is_the_reference(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", error="Boom")
    write_cell(s, 1, "approach=finetune", "finetune", 4, train_seconds=1.0)
    write_cell(s, 2, "approach=rag,retriever=dense", "rag", 6, retriever="dense")
    cells = load_cells(s)
    assert reference_cell(cells, "contains") is cells[1]
    assert reference_cell(cells, "rouge_l") is None  # no cell has per-question rouge_l
    ref, diffs = paired_differences(cells, "contains")
    assert ref is cells[1] and [(c.job, round(d.mean, 6)) for c, d in diffs] == [(2, 0.2)]
