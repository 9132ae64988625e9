"""A sweep's axes come from what varies, and cells that differ only in seed pool into a row."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from ragft.report import NA, load_cells, pool, table
from ragft.report.axes import axis_values, label, sweep_axes, text, varying_axes
from ragft.report.tables import cells_table

from .report_sweeps import config, edit_results, new_sweep, write_cell, write_eval_cell

KNOWN = ["approach", "model", "data", "eval_split", "lora", "quant", "retriever", "k", "prompt",
         "n_train_phrasings"]  # fmt: skip


def _cfg(approach: str, **slices: dict) -> dict:
    cfg = config(approach)
    cfg["trainer"] = {"name": "cpu", "learning_rate": 3e-3, "max_epochs": 4}
    cfg["logger"] = {"name": "none", "project": "p"}
    cfg["retriever"]["embedder"] = {"package": "minilm"}
    for key, value in slices.items():
        cfg[key] = {**cfg.get(key, {}), **value}
    return cfg


def test_a_swept_key_outside_the_known_axes_becomes_an_axis():
    a, b = _cfg("finetune"), _cfg("finetune", trainer={"learning_rate": 1e-3})
    axes = sweep_axes([(a, "finetune"), (b, "finetune")])
    assert axes == [*KNOWN, "trainer.learning_rate", "seed"]
    values = [axis_values(c, "finetune", axes) for c in (a, b)]
    assert [v["trainer.learning_rate"] for v in values] == [3e-3, 1e-3]
    assert label(values[1], varying_axes(values)) == "learning_rate=0.001"
    # a key that does not apply to the approach is not applicable there
    assert axis_values(b, "rag", axes)["trainer.learning_rate"] == NA


def test_keys_that_never_change_a_result_or_repeat_another_axis_are_no_axes():
    a = _cfg("rag", logger={"project": "one"}, data={"seed": 0})
    a["seed"] = 0
    b = _cfg("rag", logger={"project": "two"}, data={"seed": 1})
    b["seed"] = 1
    assert sweep_axes([(a, "rag"), (b, "rag")]) == [*KNOWN, "seed"]  # no logger, no data.seed


def test_keys_a_group_choice_decides_are_said_by_the_group():
    # RAFT's own max_epochs comes with approach=raft; dense's embedder with retriever=dense
    cells = [
        (_cfg("finetune"), "finetune"),
        (_cfg("raft", trainer={"max_epochs": 2}), "raft"),
        (_cfg("rag", retriever={"name": "dense"}), "rag"),
        (_cfg("rag", retriever={"name": "bm25", "embedder": {"package": None}}), "rag"),
    ]
    assert sweep_axes(cells) == [*KNOWN, "seed"]
    # a grid of the approach and the key is no group's choice: the key is an axis
    grid = [(_cfg(a, trainer={"max_epochs": e}), a) for a in ("finetune", "raft") for e in (2, 4)]
    assert "trainer.max_epochs" in sweep_axes(grid)


def test_a_group_choice_outside_the_known_axes_is_named_by_its_group():
    a, b = _cfg("finetune"), _cfg("finetune", trainer={"name": "gpu", "max_epochs": 9})
    axes = sweep_axes([(a, "finetune"), (b, "finetune")])
    assert axes == [*KNOWN, "trainer", "seed"]  # max_epochs comes with trainer=gpu
    assert text("trainer", "gpu") == "trainer=gpu"
    assert text("lora", 8) == "r=8"
    assert text("trainer.learning_rate", 3e-05) == "learning_rate=3e-05"


def _seeded(s: Path, job: int, approach: str, seed: int, contains: list[float]) -> Path:
    d = write_eval_cell(s, job, f"approach={approach},seed={seed}", approach, contains)
    edit_results(d, config={"seed": seed})
    return d


def test_cells_that_differ_only_in_seed_are_one_row_with_mean_and_sd(tmp_path: Path):
    s = new_sweep(tmp_path)
    runs = {("rag", 0): [1, 1, 1, 0], ("rag", 1): [1, 0, 0, 0], ("base", 0): [0, 0, 0, 0],
            ("base", 1): [1, 0, 0, 0]}  # fmt: skip
    for job, ((approach, seed), contains) in enumerate(runs.items()):
        _seeded(s, job, approach, seed, [float(x) for x in contains])
    cells = load_cells(s)
    rows = pool(cells)
    assert [r.label for r in rows] == ["rag", "base"]
    rag = rows[0]
    assert rag.seeds == (0, 1) and rag.per_seed("contains") == [0.75, 0.25]
    assert rag.score("contains") == pytest.approx(0.5)
    assert rag.sd("contains") == pytest.approx(np.std([0.75, 0.25], ddof=1))
    df = table(rows)
    assert len(df) == 2 and "seed" not in df.columns and df["seeds"].tolist() == [2, 2]
    assert df["contains"].tolist() == [50.0, 12.5]
    assert df["contains_sd"].iloc[0] == pytest.approx(round(100 * rag.sd("contains"), 1))
    per_cell = cells_table(cells, rows)
    assert per_cell["seed"].tolist() == [0, 1, 0, 1]  # each seed's own values
    assert per_cell["row"].tolist() == ["rag", "rag", "base", "base"]
    assert per_cell["contains"].tolist() == [75.0, 25.0, 0.0, 25.0]


def test_one_computation_under_axes_that_do_not_apply_is_one_row(tmp_path: Path):
    s = new_sweep(tmp_path)
    write_cell(s, 0, "approach=base,retriever=bm25", "base", 2)
    write_cell(s, 1, "approach=base,retriever=dense", "base", 2, retriever="dense")
    write_cell(s, 2, "approach=rag,retriever=bm25", "rag", 5)
    write_cell(s, 3, "approach=rag,retriever=dense", "rag", 7, retriever="dense")
    rows = pool(load_cells(s))
    assert [r.label for r in rows] == ["base", "rag bm25", "rag dense"]
    assert len(rows[0].cells) == 2 and len(rows[0].ok_cells) == 1


def test_failed_seeds_leave_the_others_in_the_row(tmp_path: Path):
    s = new_sweep(tmp_path)
    _seeded(s, 0, "rag", 0, [1.0, 0.0])
    d = write_cell(s, 1, "approach=rag,seed=1", "rag", error="boom")
    edit_results(d, config={**config("rag"), "seed": 1})
    rows = pool(load_cells(s))
    assert len(rows) == 1 and rows[0].ok and rows[0].seeds == (0,)
    assert table(rows)["seeds"].tolist() == [1]


def test_old_cells_without_the_new_keys_still_read(tmp_path: Path):
    s = new_sweep(tmp_path)
    a = write_cell(s, 0, "approach=finetune", "finetune", 3, train_seconds=1.0)
    b = write_cell(s, 1, "approach=finetune,trainer.learning_rate=0.001", "finetune", 6,
                   train_seconds=1.0)  # fmt: skip
    edit_results(b, config={"trainer": {"learning_rate": 0.001}})
    cfg = copy.deepcopy(config("finetune"))
    edit_results(a, config={**cfg, "trainer": {"learning_rate": 0.003}})
    df = table(pool(load_cells(s)))
    assert df["trainer.learning_rate"].tolist() == [0.003, 0.001]


def test_value_text_and_is_numeric():
    from ragft.report.axes import is_numeric, value_text

    assert [value_text(v) for v in (0.001, 3e-05, 16, ["q", "v"], "rag")] == [
        "0.001", "3e-05", "16", "q,v", "rag",
    ]  # fmt: skip
    assert is_numeric([1, 2.5, NA, None]) and not is_numeric([NA, None])
    assert not is_numeric([True, False]) and not is_numeric([1, "full"])


def test_a_rows_questions_are_keyed_by_seed(tmp_path: Path):
    s = new_sweep(tmp_path)
    for job, seed in enumerate((0, 1)):
        d = write_eval_cell(s, job, f"approach=rag,seed={seed}", "rag", [1.0, 0.0],
                            unanswerable=[True])  # fmt: skip
        edit_results(d, config={"seed": seed})
    (row,) = pool(load_cells(s))
    values = row.per_question("contains")
    assert values == {("0", "q0"): 1.0, ("0", "q1"): 0.0, ("1", "q0"): 1.0, ("1", "q1"): 0.0}
    judged = row.per_question("abstained_or_none")  # no such metric: nothing
    assert judged == {}
    assert row.ci("contains") is not None and row.ci("rouge_l") is None
