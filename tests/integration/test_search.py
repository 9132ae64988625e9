"""Hyperparameter search as a user runs it: `ragft run -m experiment=search-lora` runs its
trials on a validation split of the training questions, resumes an interrupted study without
repeating a finished trial, and scores the best trial once on the eval questions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import N_EVAL, TINY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_TRAIN = N_EVAL * 2  # TINY: two training phrasings per fact
N_VALIDATION = N_TRAIN // 4  # search-lora holds out 25% of the training questions


def search(sweep_dir: Path, cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    args = [
        sys.executable,
        "-m",
        "ragft",
        "run",
        "-m",
        "experiment=search-lora",
        *TINY,
        "trainer.max_steps=2",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def trial_dirs(sweep_dir: Path) -> dict[int, Path]:
    return {
        int(d.name.split("_", 1)[0]): d
        for d in sweep_dir.iterdir()
        if d.name[0].isdigit() and (d / "results.json").is_file()
    }


def test_search_tunes_on_validation_resumes_and_scores_the_best_on_eval_once(tmp_path):
    import optuna

    sweep_dir = tmp_path / "search"
    first = search(sweep_dir, tmp_path, "hydra.sweeper.n_trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    record = json.loads((sweep_dir / "search.json").read_text())
    assert [t["state"] for t in record["trials"]] == ["COMPLETE", "COMPLETE"]
    trials = trial_dirs(sweep_dir)
    assert sorted(trials) == [0, 1]
    for folder in trials.values():  # trials score held-out training questions, not eval ones
        r = results(folder)
        assert (r["n_eval"], r["n_train"]) == (N_VALIDATION, N_TRAIN - N_VALIDATION)
        asked = [json.loads(x)["id"] for x in (folder / "predictions.jsonl").open()]
        assert all("/train" in qid for qid in asked), asked
    best = record["best"]
    chosen = max(record["trials"], key=lambda t: t["value"])
    assert best["validation_score"] == chosen["value"]
    final = results(sweep_dir / "best-eval")  # trained on every training question, eval once
    assert (final["n_eval"], final["n_train"]) == (N_EVAL, N_TRAIN)
    assert best["eval_score"] == pytest.approx(final["scores"]["contains"])
    for key, value in best["params"].items():
        assert final["config"][key.split(".")[0]][key.split(".")[1]] == pytest.approx(value)
    assert "search: best trial" in first.stdout and "eval contains" in first.stdout
    assert "## Search" in (sweep_dir / "report" / "report.md").read_text()

    # an interruption leaves a trial RUNNING in the study; the rerun asks its settings again
    study = optuna.load_study(
        study_name="search-lora", storage=f"sqlite:///{sweep_dir / 'optuna.db'}"
    )
    dists = study.trials[0].distributions
    left_running = study.ask(dists)
    half = sweep_dir / f"{left_running.number}_killed-mid-trial" / ".hydra"
    half.mkdir(parents=True)  # what a kill leaves: Hydra's folder, no results.json
    before = {n: (d / "results.json").stat().st_mtime_ns for n, d in trials.items()}

    again = search(sweep_dir, tmp_path, "hydra.sweeper.n_trials=3")
    assert again.returncode == 0, again.stderr[-3000:]  # 1 if a cell were missing
    assert "resuming study 'search-lora' with 2 of 3 trials finished" in again.stdout + again.stderr
    record = json.loads((sweep_dir / "search.json").read_text())
    states = [(t["number"], t["state"], t["interrupted"]) for t in record["trials"]]
    n = left_running.number
    assert states == [
        (0, "COMPLETE", False),
        (1, "COMPLETE", False),
        (n, "FAIL", True),
        (n + 1, "COMPLETE", False),
    ]
    assert record["trials"][-1]["params"] == left_running.params
    after = trial_dirs(sweep_dir)
    assert sorted(after) == [0, 1, n + 1]  # one new trial; the finished ones not run again
    assert not half.parent.exists()  # moved aside: the report counts no missing cell
    assert (sweep_dir / f".interrupted-{half.parent.name}").is_dir()
    assert {k: (after[k] / "results.json").stat().st_mtime_ns for k in before} == before
