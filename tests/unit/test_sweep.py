"""Sweep bookkeeping: how many cells a sweep launches (command-line overrides replace the
experiment's sweeper params), the cell count shared through the sweep folder, and the
clear stop on an unwritable output folder. Cell counts are worked out by hand."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from ragft.sweep import STATE, check_output_dir, count_cells, sweep_total

from ..helpers import ROOT


def _experiment_params(name: str) -> dict:
    cfg = OmegaConf.load(ROOT / "ragft" / "conf" / "experiment" / f"{name}.yaml")
    return OmegaConf.to_container(cfg.hydra.sweeper.params)


def test_no_sweep_is_one_cell():
    assert count_cells([], {}) == 1
    assert count_cells(["approach=rag", "retriever.k=3"], {}) == 1


def test_the_product_of_each_keys_choices():
    assert count_cells(["approach=base,rag", "lora.r=8,16,64"], {}) == 6
    assert count_cells([], {"approach": "base,rag,finetune", "retriever": "bm25,dense"}) == 6


def test_command_line_overrides_replace_sweeper_params_for_the_same_key():
    params = {"approach": "base,rag,finetune,hybrid,raft", "lora.r": "8,64"}
    assert count_cells([], params) == 10
    assert count_cells(["approach=base,rag"], params) == 4  # 2 x 2, not 5 x 2 x 2
    assert count_cells(["approach=rag"], params) == 2
    assert count_cells(["+lora.r=4"], params) == 5  # a +/~ prefix names the same key
    assert count_cells(["seed=0,1,2"], params) == 30  # a new key multiplies


def test_ranges_and_choices():
    assert count_cells(["seed=range(0,4)"], {}) == 4
    assert count_cells(["seed=range(1,10,3)"], {}) == 3  # 1, 4, 7
    assert count_cells(["approach=choice(base,rag,raft)"], {}) == 3
    assert count_cells([], {"seed": "range(0,2)", "approach": "choice(base,rag)"}) == 4


def test_the_shipped_experiments():
    assert count_cells([], _experiment_params("compare")) == 5
    assert count_cells([], _experiment_params("grid")) == 5 * 2 * 2 * 3
    assert count_cells(["approach=base,rag"], _experiment_params("grid")) == 2 * 2 * 2 * 3
    assert count_cells([], _experiment_params("retrievers")) == 3 * 3
    assert count_cells(["retriever.k=1"], _experiment_params("retrievers")) == 3


def test_sweep_total_reads_the_state_file(tmp_path):
    assert sweep_total(tmp_path) is None  # no file
    (tmp_path / STATE).write_text(json.dumps({"cells": 6}))
    assert sweep_total(tmp_path) == 6
    (tmp_path / STATE).write_text('{"cells": ')
    assert sweep_total(tmp_path) is None  # half written
    (tmp_path / STATE).write_text("{}")
    assert sweep_total(tmp_path) is None


def test_sweep_total_of_an_uncounted_sweep_is_none(tmp_path):
    (tmp_path / STATE).write_text(json.dumps({"cells": None}))
    assert sweep_total(tmp_path) is None


def test_check_output_dir_stops_with_exit_code_2_and_one_message(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as stop:
        check_output_dir("hydra.sweep.dir", str(blocker / "sweep"))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"ragft: error: hydra.sweep.dir={blocker / 'sweep'}: cannot write the outputs there "
        f"({blocker} is a file, not a folder); choose another folder with hydra.sweep.dir=...\n"
    )


def test_check_output_dir_passes_a_writable_folder_and_creates_nothing(tmp_path, capsys):
    check_output_dir("hydra.run.dir", str(tmp_path / "new" / "run"))
    assert capsys.readouterr().err == ""
    assert not (tmp_path / "new").exists()
