"""The sweep table (report.csv): a line per row (one seed here: a row per cell), scores in %,
costs, what was reused."""

from __future__ import annotations

import math
from pathlib import Path

from ragft.report import NA, load_cells, pool, score_names, table
from ragft.report.tables import short_error

from .report_sweeps import edit_results, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture

COLUMNS = [
    "job", "row", "approach", "model", "data", "eval_split", "lora_r", "quant", "retriever",
    "k", "prompt", "n_train_phrasings", "seed", "n_eval", "exact_match", "f1", "contains",
    "train_seconds", "seconds_per_question", "total_seconds", "peak_memory_mb", "adapter_mb",
    "prompt_tokens_per_question", "trainable_parameters", "reused", "status", "error",
]  # fmt: skip


def test_table_has_one_row_per_cell_with_percentages(sweep: Path):
    df = table(pool(load_cells(sweep)))
    assert len(df) == 7
    assert list(df.columns) == COLUMNS  # report.csv's columns, in this order
    assert df["contains"].tolist()[:5] == [20.0, 70.0, 30.0, 50.0, 90.0]
    assert df["f1"].iloc[1] == 60.0  # 0.7 / 2 + 0.25, in %
    assert df["contains"].iloc[5:].isna().all()
    assert df["status"].tolist()[-2:] == ["failed", "missing"]
    assert df["lora_r"].tolist() == [NA, NA, 4, 16, 16, NA, 16]
    assert df["train_seconds"].iloc[2] == 30.0 and math.isnan(df["train_seconds"].iloc[0])
    assert df["seconds_per_question"].iloc[1] == 0.2
    assert str(df["seed"].dtype) == "Int64" and str(df["trainable_parameters"].dtype) == "Int64"
    assert df["error"].iloc[5] == "ModelError: no embedder at /nonexistent/embedder"


def test_reused_says_what_came_from_the_cache(tmp_path: Path):
    s = new_sweep(tmp_path)
    d = write_cell(s, 0, "approach=hybrid", "hybrid", 5, train_seconds=0.0)
    edit_results(d, cost={"train_cache_hit": True, "train_seconds_saved": 33.3})
    d = write_cell(s, 1, "approach=finetune", "finetune", 5, train_seconds=0.0)
    edit_results(
        d, cost={"train_cache_hit": True, "train_seconds_saved": 20.0, "cell_cache_hit": True}
    )
    d = write_cell(s, 2, "approach=rag", "rag", 5)
    edit_results(d, cost={"cell_cache_hit": True, "peak_memory_mb": 1250.3})
    df = table(pool(load_cells(s)))
    assert df["reused"].tolist() == ["adapter", "cell+adapter", "cell"]
    assert df["train_seconds"].tolist()[:2] == [33.3, 20.0]
    assert df["peak_memory_mb"].iloc[2] == 1250.3


def test_scores_in_the_one_metric_order(tmp_path: Path):
    s = new_sweep(tmp_path)
    d = write_cell(s, 0, "approach=rag", "rag", 5)
    edit_results(d, scores={"judge": 0.5, "mrr": 1.0, "contains": 0.5, "exact_match": 0.1})
    cells = load_cells(s)
    assert score_names(cells) == ["exact_match", "contains", "mrr", "judge"]
    assert list(table(pool(cells)).columns[14:18]) == ["exact_match", "contains", "mrr", "judge"]


def test_short_error_is_one_line():
    assert short_error("") == ""
    assert short_error("\n  ValueError: bad\n  more\n") == "ValueError: bad"
    assert short_error("Traceback:\n  File x\nValueError: y") == "Traceback: File x ValueError: y"
    long = short_error("x" * 300)
    assert len(long) == 100 and long.endswith("…")
