"""Cell bookkeeping: identity, the one finish (fresh and replayed), failure records."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

from hydra.types import RunMode
from omegaconf import OmegaConf

from ragft import cell
from ragft.cache import Cache, hash_key
from ragft.config import RunConfig
from ragft.data import fictional_kb
from ragft.records import CellResult, Cost, GenerationStats, ModelInfo, TrainStats
from ragft.validation import validate


def _run(**approach) -> RunConfig:
    run = RunConfig()
    run.logger.name = "none"
    run.approach.name = approach.get("name", "rag")
    return validate(run)


def _hc(mode: RunMode, out: Path, overrides: str = "", sweep: str = "multirun/d/t"):
    return SimpleNamespace(
        mode=mode,
        runtime=SimpleNamespace(output_dir=str(out)),
        job=SimpleNamespace(override_dirname=overrides),
        sweep=SimpleNamespace(dir=sweep),
    )


def test_place_names_and_groups(tmp_path):
    cfg = OmegaConf.create({"logger": {"group": None}})
    single = cell.place(cfg, _hc(RunMode.RUN, tmp_path))
    assert (single.name, single.group, single.in_sweep) == ("default", "single", False)
    swept = cell.place(cfg, _hc(RunMode.MULTIRUN, tmp_path, "approach=rag"))
    assert (swept.name, swept.group, swept.in_sweep) == ("approach=rag", "sweep-t", True)
    named = cell.place(OmegaConf.create({"logger": {"group": "mine"}}), _hc(RunMode.RUN, tmp_path))
    assert named.group == "mine"
    hc = _hc(RunMode.MULTIRUN, tmp_path, "approach=rag", sweep="multirun/2026-01-01/10-00-00")
    hc.runtime.choices = OmegaConf.create({"experiment": "compare", "model": "tiny-llama"})
    assert cell.place(cfg, hc).group == "compare-2026-01-01-10-00-00"  # readable on W&B


def test_identity_ignores_the_training_split_for_cells_that_do_not_train():
    ds = fictional_kb.generate(2, 2, 0, "heldout")
    fewer = type(ds)(corpus=ds.corpus, train=ds.train[:1], eval=ds.eval)
    rag, ft = _run(name="rag"), _run(name="finetune")
    assert hash_key(cell.identity(rag, ds)) == hash_key(cell.identity(rag, fewer))
    assert hash_key(cell.identity(ft, ds)) != hash_key(cell.identity(ft, fewer))
    assert cell.identity(rag, ds)["format"] == cell.CELL_FORMAT


def _result(where: cell.Place) -> CellResult:
    return CellResult(
        status="ok",
        name=where.name,
        approach="finetune",
        config={"seed": 0},
        group=where.group,
        scores={"contains": 0.25, "f1": 0.5},
        primary_metric="contains",
        n_eval=4,
        cost=Cost(train=TrainStats(train_seconds=2.0), generation=GenerationStats(3.0)),
        model=ModelInfo({"tiny": 1}, False, "cpu", 10),
    )


def test_finish_then_replay_writes_the_same_scores_and_marks_the_reuse(tmp_path, capsys):
    run = _run(name="finetune")
    fresh = cell.Place(tmp_path / "fresh", "approach=finetune", "g", True)
    adapter = tmp_path / "entry"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    rows = [{"id": "q1", "metrics": {"contains": 1.0}}]
    with cell.tracker(run, fresh, {"seed": 0}, []) as t:
        result = dataclasses.replace(_result(fresh), adapter_entry=str(adapter))
        score = cell.finish(t, run, result, rows)
    assert score == 0.25
    written = json.loads((fresh.out_dir / "results.json").read_text())
    assert written["adapter"] == str(fresh.out_dir / "adapter")
    assert (fresh.out_dir / "adapter" / "adapter_model.safetensors").read_bytes() == b"weights"
    assert "4 questions, model" in capsys.readouterr().out

    cache = Cache(tmp_path / "cache")
    cell.keep(cache, {"k": 1}, fresh.out_dir)
    entry = cache.lookup("cell", hash_key({"k": 1}))
    again = cell.Place(tmp_path / "again", "approach=finetune,seed=0", "g2", True)
    cfg = OmegaConf.create({"seed": 0})
    assert cell.replay(entry, cfg, run, again, 0.5) == 0.25
    replayed = json.loads((again.out_dir / "results.json").read_text())
    assert replayed["scores"] == written["scores"]
    assert (replayed["name"], replayed["group"]) == ("approach=finetune,seed=0", "g2")
    assert replayed["reused_cell"] == str(entry)
    assert replayed["cost"]["cell_cache_hit"] is True and replayed["cost"]["replay_seconds"] == 0.5
    assert replayed["cost"]["train_seconds"] == 2.0  # the cached figures are kept
    assert (again.out_dir / "predictions.jsonl").read_text() == json.dumps(rows[0]) + "\n"
    assert f"reused: {entry}" in capsys.readouterr().out


def test_a_failure_record_names_the_error_and_nothing_else(tmp_path):
    where = cell.Place(tmp_path, "approach=rag", "g", True)
    cfg = OmegaConf.create({"approach": {"name": "rag"}, "x": "${missing}"})
    cell.record_failure(cfg, where, ValueError("boom"))
    written = json.loads((tmp_path / "results.json").read_text())
    assert written == {
        "status": "failed",
        "approach": "rag",
        "name": "approach=rag",
        "error": "ValueError: boom",
        "config": {"approach": {"name": "rag"}, "x": "${missing}"},
    }
