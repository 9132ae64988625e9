"""Sweeps: every cell lands, a re-run reuses finished cells, a broken cell does not sink the
sweep (exit status 1), the report is written, and submitit runs cells as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT, TINY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sweep(sweep_dir: Path, *overrides: str, timeout: int = 900) -> subprocess.CompletedProcess:
    args = [
        sys.executable,
        str(ROOT / "run.py"),
        "-m",
        *TINY,
        "data.max_eval=4",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def cells(sweep_dir: Path) -> dict[str, dict]:
    return {
        d.name: json.loads((d / "results.json").read_text())
        for d in sorted(sweep_dir.iterdir())
        if (d / "results.json").is_file()
    }


def test_sweep_lands_every_cell_reports_and_reruns_from_the_cache(tmp_path):
    first = sweep(
        tmp_path / "a", "approach=base,rag", "retriever=bm25", "logger=wandb", "logger.mode=offline"
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "cell 1 of 2" in first.stdout and "cell 2 of 2" in first.stdout
    landed = cells(tmp_path / "a")
    assert sorted(r["approach"] for r in landed.values()) == ["base", "rag"]
    assert all(r["status"] == "ok" for r in landed.values())
    groups = set()
    for name, r in landed.items():
        run_dirs = list((tmp_path / "a" / name / "wandb").glob("offline-run-*"))
        assert len(run_dirs) == 1, name
        meta = json.loads((tmp_path / "a" / name / "wandb_run.json").read_text())
        assert meta["job_type"] == r["approach"] and meta["group"] == r["group"]
        assert meta["mode"] == "offline"
        # the offline run file itself carries the group and job type W&B will show
        blob = next(run_dirs[0].glob("*.wandb")).read_bytes()
        assert r["group"].encode() in blob and r["approach"].encode() in blob
        groups.add(r["group"])
    assert groups == {"sweep-a"}  # one group: the sweep (no experiment, folder "a")
    assert (tmp_path / "a" / "report" / "report.md").is_file()
    assert list((tmp_path / "a" / "wandb").glob("offline-run-*"))  # the summary run
    assert "report:" in first.stdout

    # the same sweep again, into the same folder: every cell (and the summary) resumes its run
    ids = {name: json.loads((tmp_path / "a" / name / "wandb_run.json").read_text())["id"]
           for name in landed}  # fmt: skip
    rerun = sweep(
        tmp_path / "a", "approach=base,rag", "retriever=bm25", "logger=wandb", "logger.mode=offline"
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for name, run_id in ids.items():
        assert json.loads((tmp_path / "a" / name / "wandb_run.json").read_text())["id"] == run_id
        runs = {
            p.name.rsplit("-", 1)[1]
            for p in (tmp_path / "a" / name / "wandb").glob("offline-run-*")
        }
        assert runs == {run_id}, name  # two offline runs to sync, one run id: no new run
    summary_ids = {
        p.name.rsplit("-", 1)[1] for p in (tmp_path / "a" / "wandb").glob("offline-run-*")
    }
    assert len(summary_ids) == 1

    again = sweep(tmp_path / "b", "approach=base,rag", "retriever=bm25", "logger=none")
    assert again.returncode == 0, again.stderr[-3000:]
    reran = cells(tmp_path / "b")
    assert all(r["cost"].get("cell_cache_hit") for r in reran.values())
    by_approach = {r["approach"]: r["scores"] for r in landed.values()}
    assert {r["approach"]: r["scores"] for r in reran.values()} == by_approach


def test_a_broken_cell_does_not_sink_the_sweep(tmp_path):
    res = sweep(
        tmp_path / "s",
        "approach=rag",
        "retriever=bm25,dense",
        "retriever.embedder.path=/nonexistent/embedder",
    )
    assert res.returncode != 0
    landed = cells(tmp_path / "s")
    status = {r["config"]["retriever"]["name"]: r["status"] for r in landed.values()}
    assert status == {"bm25": "ok", "dense": "failed"}
    failed = next(r for r in landed.values() if r["status"] == "failed")
    assert "/nonexistent/embedder" in failed["error"]
    report = (tmp_path / "s" / "report" / "report.md").read_text()
    assert "failed" in report.lower() and "/nonexistent/embedder" in report


def test_submitit_local_runs_cells_as_separate_processes(tmp_path):
    res = sweep(
        tmp_path / "s",
        "approach=base",
        "data.eval_split=heldout,seen",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    landed = cells(tmp_path / "s")
    assert len(landed) == 2 and all(r["status"] == "ok" for r in landed.values())
    assert list((tmp_path / "s" / ".submitit").glob("*"))  # submitit's own job folders


def test_a_learning_rate_sweep_gets_its_own_column(tmp_path):
    res = sweep(tmp_path / "s", "approach=finetune", "trainer.learning_rate=1e-3,3e-3")
    assert res.returncode == 0, res.stderr[-3000:]
    import pandas as pd

    df = pd.read_csv(tmp_path / "s" / "report" / "report.csv")
    assert sorted(df["trainer.learning_rate"]) == [0.001, 0.003]
    assert sorted(df["row"]) == ["learning_rate=0.001", "learning_rate=0.003"]
    md = (tmp_path / "s" / "report" / "report.md").read_text()
    results = md.split("## Results", 1)[1]
    assert "trainer.learning_rate" in results and "| learning_rate=0.001 " in results
    assert md.split("\n## ", 2)[1].startswith("Decision\n\n**learning_rate=")
    assert (tmp_path / "s" / "report" / "score_vs_trainer_learning_rate.png").is_file()
    assert "decision: learning_rate=" in res.stdout


def test_seeds_pool_into_one_row_per_approach(tmp_path):
    res = sweep(tmp_path / "s", "approach=base,rag", "retriever=bm25", "seed=0,1")
    assert res.returncode == 0, res.stderr[-3000:]
    import pandas as pd

    out = tmp_path / "s" / "report"
    df = pd.read_csv(out / "report.csv")
    assert sorted(df["row"]) == ["base", "rag"] and df["seeds"].tolist() == [2, 2]
    per_cell = pd.read_csv(out / "cells.csv")
    assert len(per_cell) == 4 and sorted(per_cell["seed"]) == [0, 0, 1, 1]
    for _, row in df.iterrows():  # the mean and sd of the two seeds' own scores
        mine = per_cell[per_cell["row"] == row["row"]]["contains"]
        assert row["contains"] == pytest.approx(mine.mean(), abs=0.051)
        assert row["contains_sd"] == pytest.approx(mine.std(ddof=1), abs=0.051)
    md = (out / "report.md").read_text()
    assert " ± " in md.split("## Results", 1)[1].split("##", 1)[0]
    assert "mean ± standard deviation across seeds" in md
    assert "(seed, question) pairs" in md.split("## Comparisons", 1)[1]
