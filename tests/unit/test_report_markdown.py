"""report.md's table: DataFrame.to_markdown, constant axes said once, readable numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ragft.report import load_cells, markdown_table, pool, table
from ragft.report.markdown import md_cell

from .report_sweeps import edit_results, md_alignment, md_table, new_sweep, sweep, write_cell

__all__ = ["sweep"]  # the fixture


def test_markdown_table_drops_blank_and_constant_columns(sweep: Path):
    text, constant = markdown_table(table(pool(load_cells(sweep))))
    assert constant == {
        "model": "tiny-llama",
        "data": "fictional-kb",
        "eval_split": "heldout",
        "quant": "none",
        "seed": 0,
        "n_eval": 10,
    }
    cols = md_table(text)
    assert list(cols) == [
        "row",
        "approach",
        "lora_r",
        "retriever",
        "k",
        "n_train_phrasings",
        "exact_match",
        "f1",
        "contains",
        "train_seconds",
        "seconds_per_question",
        "total_seconds",
        "adapter_mb",
        "trainable_parameters",
        "status",
        "error",
    ]  # fmt: skip  (no job, nothing blank everywhere: peak_memory_mb, reused)
    assert cols["row"][:2] == ["base", "rag bm25"]
    assert cols["contains"] == ["20.0", "70.0", "30.0", "50.0", "90.0", "", ""]  # one decimal
    assert cols["f1"][1] == "60.0" and cols["exact_match"][0] == "20.0"
    assert cols["train_seconds"][:3] == ["", "", "30"]
    assert cols["trainable_parameters"][2] == "12,345"
    assert cols["lora_r"] == ["–", "–", "4", "16", "16", "–", "16"]
    assert cols["error"][5] == "ModelError: no embedder at /nonexistent/embedder"
    align = md_alignment(text)
    assert align["contains"] == align["train_seconds"] == align["trainable_parameters"] == "right"
    assert align["row"] == align["lora_r"] == align["status"] == "left"


def test_markdown_table_escapes_pipes_and_formats_numbers(tmp_path: Path):
    s = new_sweep(tmp_path)
    d = write_cell(s, 0, "approach=rag", "rag", 5, train_seconds=77.123456)
    edit_results(d, config={"model": {"name": "tiny|llama"}}, cost={"peak_memory_mb": 12345.678})
    write_cell(s, 1, "approach=base", "base", 5, error="Boom: a | b\nsecond line")
    text, constant = markdown_table(table(pool(load_cells(s))))
    assert "tiny\\|llama" in text and "a \\| b" in text
    cols = md_table(text)  # the escaped pipe splits no cell
    assert cols["model"][0] == "tiny\\|llama" and cols["error"][1] == "Boom: a \\| b"
    assert cols["train_seconds"][0] == "77.12" and cols["peak_memory_mb"][0] == "1.235e+04"
    assert "data" in constant and "model" not in constant  # two models: a column


def test_one_cell_keeps_its_axis_columns(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=rag", "rag", 7)
    text, constant = markdown_table(table(pool(load_cells(s))))
    cols = md_table(text)
    assert constant == {} and cols["row"] == ["rag"] and cols["approach"] == ["rag"]
    assert cols["model"] == ["tiny-llama"] and cols["contains"] == ["70.0"]


def test_md_cell():
    assert [md_cell(v) for v in (None, "", float("nan"), pd.NA)] == [""] * 4
    assert [md_cell(v) for v in (True, False, 3.0, 12345.0, 0.12345, 12345, 42)] == [
        "yes", "no", "3", "12,345", "0.1235", "12,345", "42",
    ]  # fmt: skip
    assert md_cell("a|b\nc") == "a\\|b c"
