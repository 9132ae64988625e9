"""The comparisons a report makes on the hand-written sweep: which pairs, their figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragft.report import comparisons, load_cells, pool

from .report_sweeps import N_QUESTIONS, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture


def test_the_sweep_compares_the_rows_that_differ_in_one_axis(sweep: Path):
    rows = pool(load_cells(sweep))
    found = comparisons(rows, "contains")
    pairs = {(c.a.label, c.b.label): c for c in found}
    # base, rag, finetune r=4 / r=16, hybrid r=16 (bm25); the failed and missing cells none
    assert ("rag bm25", "base") in pairs and ("finetune r=16", "finetune r=4") in pairs
    assert ("hybrid r=16 bm25", "finetune r=16") in pairs
    assert ("hybrid r=16 bm25", "finetune r=4") not in pairs  # approach and rank differ
    rag = pairs[("rag bm25", "base")]
    assert rag.mean == pytest.approx(0.5) and rag.n == N_QUESTIONS
    hybrid = pairs[("hybrid r=16 bm25", "base")]  # 7 more of 10 right, none worse
    assert (hybrid.a_only, hybrid.b_only) == (7, 0)
    assert hybrid.p == pytest.approx(2 * 0.5**7) and hybrid.low > 0
    assert all(c.p_holm >= c.p for c in found)


def test_rows_without_per_question_values_are_not_compared(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", error="Boom")
    write_cell(s, 1, "approach=finetune", "finetune", 4, train_seconds=1.0)
    write_cell(s, 2, "approach=rag,retriever=dense", "rag", 6, retriever="dense")
    rows = pool(load_cells(s))
    assert comparisons(rows, "rouge_l") == []  # no cell has per-question rouge_l
    found = comparisons(rows, "contains")
    assert [(c.a.label, c.b.label, round(c.mean, 6)) for c in found] == [
        ("rag dense", "finetune", 0.2)
    ]
