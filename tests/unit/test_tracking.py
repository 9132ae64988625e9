"""A cell's side effects: the plain files (config.json, results.json, predictions.jsonl), the
W&B run (offline here; finished also when the cell raises), the adapter copy, versions and
the git commit, and the small formatting helpers. Expected values are written by hand or
come from the reference tool (git, platform, hashlib), never from tracking itself."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import pytest

from ragft import files, provenance, tracking
from ragft.config import LoggerConfig
from ragft.provenance import git_sha
from ragft.records import CellResult
from ragft.tracking import Tracker, flatten, score_intervals, score_table
from ragft.wandb_runs import run_id, stored_login, sweep_group, wandb_mode

CONFIG = {"approach": {"name": "rag"}, "retriever": {"name": "bm25", "k": 3}, "seed": 0}
RESULTS = {
    "status": "ok",
    "approach": "rag",
    "name": "cell",
    "group": "single",
    "scores": {"exact_match": 0.25, "f1": 0.5},
    "scores_by_phrasing": {},
    "evaluation": {},
    "primary_metric": "f1",
    "n_eval": 2,
    "n_train": 0,
    "cost": {"generate_seconds": 1.5, "index_n_chunks": 4},
    "adapter": None,
    "adapter_entry": None,
    "model": None,
    "config": CONFIG,
    "versions": {"python": "3.11"},
    "git_sha": None,
}
PREDICTIONS = [
    {
        "id": "q1",
        "question": "Where?",
        "golds": ["Oslo"],
        "prediction": "Oslo",
        "passages": [{"doc_id": "d1", "rank": 1}],
        "metrics": {"exact_match": 1.0},
    },
    {
        "id": "q2",
        "question": "Who? – ü",
        "golds": ["Ann", "Anne"],
        "prediction": "",
        "passages": [],
        "metrics": {"exact_match": 0.0},
    },
]


def _tracker(out_dir: Path, logger: LoggerConfig) -> Tracker:
    return Tracker(
        out_dir=out_dir,
        logger=logger,
        config=CONFIG,
        job_type="rag",
        name="cell",
        group="single",
        tags=["t1"],
    )


def _record(tracker: Tracker, results: dict, predictions: list[dict]) -> None:
    tracker.record(CellResult.from_json(results), predictions)


# pure helpers ---------------------------------------------------------------------------


def test_flatten_joins_nested_keys_with_dots_and_lists_with_commas():
    nested = {"a": {"b": 1, "c": {"d": "x"}}, "l": [1, "two"], "t": (3,), "n": None, "e": {}}
    assert flatten(nested) == {"a.b": 1, "a.c.d": "x", "l": "1,two", "t": "3", "n": None}
    assert flatten({"x": 1}, prefix="cfg.") == {"cfg.x": 1}


def test_score_intervals_are_the_bootstrap_ci_of_each_scores_per_question_values():
    rows = [{"metrics": {"f1": 1.0, "contains": 1.0}}, {"metrics": {"f1": 1.0, "contains": None}},
            {"metrics": {"f1": 1.0}}, {"metrics": {}}, {}]  # fmt: skip
    got = score_intervals({"f1": 1.0, "contains": 1.0, "crag": 0.2}, rows)
    # all ones: every resample's mean is 1; None and absent values are not questions
    assert got == {"f1_ci_low": 1.0, "f1_ci_high": 1.0,
                   "contains_ci_low": 1.0, "contains_ci_high": 1.0}  # fmt: skip
    halves = [{"metrics": {"em": float(i % 2)}} for i in range(200)]
    low, high = score_intervals({"em": 0.5}, halves).values()
    assert 0.4 < low < 0.5 < high < 0.6  # about 0.5 +- 1.96 * sqrt(0.25 / 200) = 0.069
    assert score_intervals({}, halves) == {} and score_intervals({"em": 0.5}, []) == {}


def test_wandb_mode_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # no stored login
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_API_KEY", "not-a-real-key")
    assert wandb_mode(LoggerConfig(mode="offline")) == "offline"  # logger.mode first
    assert wandb_mode(LoggerConfig()) == "disabled"  # then $WANDB_MODE
    monkeypatch.delenv("WANDB_MODE")
    assert wandb_mode(LoggerConfig()) == "online"  # then an API key means online
    monkeypatch.delenv("WANDB_API_KEY")
    assert wandb_mode(LoggerConfig()) == "offline"  # else offline
    monkeypatch.setenv("WANDB_MODE", "")
    assert wandb_mode(LoggerConfig()) == "offline"  # an empty variable is not a mode


def test_a_stored_login_means_online_unless_a_mode_says_otherwise(monkeypatch, tmp_path):
    netrc_file = tmp_path / "netrc"  # what `wandb login` writes (there: ~/.netrc)
    netrc_file.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    assert stored_login() and wandb_mode(LoggerConfig()) == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode(LoggerConfig()) == "offline"  # the variable still wins
    monkeypatch.delenv("WANDB_MODE")
    assert wandb_mode(LoggerConfig(mode="offline")) == "offline"  # and logger.mode
    # a login for another host (a private W&B server) is not one for this host
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    assert not stored_login() and wandb_mode(LoggerConfig()) == "offline"
    netrc_file.write_text("machine wandb.example.org login user password secret\n")
    assert wandb_mode(LoggerConfig()) == "online"
    netrc_file.write_text("this is not a netrc file at all machine")
    assert not stored_login()  # unreadable: no login, offline


def test_run_ids_come_from_the_cell_folder(tmp_path):
    a = run_id(tmp_path / "multirun" / "0_approach=rag")
    assert a == run_id(tmp_path / "multirun" / "x" / ".." / "0_approach=rag")  # same folder
    assert a != run_id(tmp_path / "multirun" / "1_approach=base")
    assert len(a) == 16 and a.isalnum()


def test_a_wandb_sweep_agent_names_the_cell_run(tmp_path, monkeypatch):
    from ragft.wandb_runs import cell_run_id

    folder = tmp_path / "0_approach=rag"
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    monkeypatch.setenv("WANDB_RUN_ID", "agentrun1")
    assert cell_run_id(folder) == run_id(folder)  # a run id alone is no agent
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep9")
    assert cell_run_id(folder) == "agentrun1"
    assert cell_run_id(folder, in_sweep=True) == run_id(folder)  # a grid keeps a run per cell


def test_sweep_group():
    assert sweep_group("multirun/2026-01-01/10-00-00", "compare") == "compare-2026-01-01-10-00-00"
    assert sweep_group(Path("/abs/sweep/")) == "sweep-sweep"  # no experiment, own folder
    assert sweep_group("/tmp/studies/lr", "search-lora") == "search-lora-lr"


def test_score_table_by_hand():
    rows = [("base", {"f1": 0.5, "exact_match": 0.25}), ("rag", {"exact_match": 1.0, "mrr": 0.5})]
    # names in METRIC_ORDER (exact_match, f1, ... mrr), 11 wide, scores as percentages
    assert score_table(rows).splitlines() == [
        "      exact_match           f1          mrr",
        "base         25.0         50.0            -",
        "rag         100.0            -         50.0",
    ]
    assert score_table([("x", {"zeta": 0.1, "contains": 0.2})]).splitlines()[0] == (
        "      contains         zeta"  # an unknown name comes after the known ones
    )


def test_versions_names_python_platform_and_installed_packages():
    import torch

    v = provenance.versions()
    assert v["python"] == platform.python_version()
    assert v["platform"] == platform.platform()
    assert v["torch"] == torch.__version__
    assert set(v) <= {"python", "platform", *provenance.PACKAGES}
    assert all(isinstance(x, str) and x for x in v.values())


def test_a_package_that_is_not_installed_is_left_out(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ("torch", "no-such-package-ragft-test"))
    assert set(provenance.versions()) == {"python", "platform", "torch"}


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout


def test_git_sha_is_the_head_commit_plus_dirty_for_tracked_changes(monkeypatch, tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    assert len(head) == 40 and all(c in "0123456789abcdef" for c in head)
    monkeypatch.setattr(provenance, "PROJECT_DIR", tmp_path)
    assert git_sha() == head
    (tmp_path / "untracked.txt").write_text("new\n")
    assert git_sha() == head  # untracked files do not make a checkout dirty
    (tmp_path / "a.txt").write_text("two\n")
    assert git_sha() == head + "+dirty"


def test_git_sha_is_none_outside_a_checkout_or_without_git(monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "PROJECT_DIR", tmp_path)  # not a git checkout
    assert git_sha() is None

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert git_sha() is None


def test_unwritable_reason(tmp_path):
    assert files.unwritable_reason(tmp_path) is None
    deep = tmp_path / "not" / "yet" / "there"
    assert files.unwritable_reason(deep) is None
    assert not (tmp_path / "not").exists()  # asking creates nothing
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert files.unwritable_reason(f) == f"{f} is a file, not a folder"
    assert files.unwritable_reason(f / "sub") == f"{f} is a file, not a folder"
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert files.unwritable_reason(ro / "x") == f"{ro} is not writable by this user"


# Tracker without W&B ---------------------------------------------------------------------


def test_tracker_without_a_logger_writes_the_config_then_results_and_predictions(tmp_path):
    out = tmp_path / "cell"
    with _tracker(out, LoggerConfig(name="none")) as t:
        assert t.run is None
        assert json.loads((out / "config.json").read_text()) == CONFIG
        assert not (out / "results.json").exists()
        _record(t, RESULTS, PREDICTIONS)
    assert json.loads((out / "results.json").read_text()) == RESULTS
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == PREDICTIONS
    assert "Who? – ü" in lines[1]  # written as UTF-8, not escaped
    assert not (out / "wandb").exists() and not (out / "wandb_run.json").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "predictions.jsonl",
        "results.json",
    ]  # no temporary files left behind


def test_a_failing_cell_without_a_logger_leaves_only_its_config(tmp_path):
    out = tmp_path / "cell"
    with pytest.raises(RuntimeError, match="boom"):
        with _tracker(out, LoggerConfig(name="none")):
            raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


@pytest.mark.slow  # importing pytorch_lightning takes ~10 s on the 2-core machine
def test_lightning_loggers_without_wandb_is_one_csv_logger_in_the_cell(tmp_path):
    from pytorch_lightning.loggers import CSVLogger

    with _tracker(tmp_path, LoggerConfig(name="none")) as t:
        loggers = t.lightning_loggers()
    assert len(loggers) == 1 and isinstance(loggers[0], CSVLogger)
    assert Path(loggers[0].log_dir) == tmp_path / "train"


# the adapter copy -----------------------------------------------------------------------


def _entry(tmp_path: Path) -> Path:
    entry = tmp_path / "cache" / "adapter" / "0123456789abcdef0123"
    (entry / "sub").mkdir(parents=True)
    (entry / "adapter_model.safetensors").write_bytes(b"\x00weights" * 100)
    (entry / "adapter_config.json").write_text('{"r": 4}')
    (entry / "sub" / "extra.txt").write_text("nested")
    (entry / "MANIFEST.json").write_text("{}")
    return entry


def _names(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_save_adapter_hard_links_the_cache_files_and_drops_the_manifest(tmp_path):
    entry = _entry(tmp_path)
    out = tmp_path / "cell"
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "stale.bin").write_text("from an earlier run")
    with _tracker(out, LoggerConfig(name="none")) as t:
        dest = t.save_adapter(entry)
    assert dest == out / "adapter"
    assert _names(dest) == {"adapter_model.safetensors", "adapter_config.json", "sub/extra.txt"}
    for rel in _names(dest):
        assert (dest / rel).read_bytes() == (entry / rel).read_bytes()
        assert (dest / rel).stat().st_ino == (entry / rel).stat().st_ino, rel  # one copy
    assert (entry / "MANIFEST.json").is_file()  # the cache entry keeps its own


def test_save_adapter_copies_when_links_are_not_possible(tmp_path, monkeypatch):
    entry = _entry(tmp_path)

    def no_links(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(tracking.os, "link", no_links)
    with _tracker(tmp_path / "cell", LoggerConfig(name="none")) as t:
        dest = t.save_adapter(entry, full_model=True)
    assert _names(dest) == {"adapter_model.safetensors", "adapter_config.json", "sub/extra.txt"}
    for rel in _names(dest):
        assert (dest / rel).read_bytes() == (entry / rel).read_bytes()
        assert (dest / rel).stat().st_ino != (entry / rel).stat().st_ino, rel


# Tracker with W&B (offline) -------------------------------------------------------------


@pytest.mark.slow
def test_wandb_offline_run_is_finished_when_the_cell_raises(tmp_path, monkeypatch):
    import wandb

    monkeypatch.delenv("WANDB_MODE", raising=False)
    out = tmp_path / "cell"
    logger = LoggerConfig(name="wandb", project="ragft-test", mode="offline", tags=["x"])
    with pytest.raises(RuntimeError, match="boom"):
        with _tracker(out, logger) as t:
            assert t.run is not None and wandb.run is t.run
            assert t.run.config["retriever.k"] == 3  # the config, flattened
            raise RuntimeError("boom")
    assert t.run is None and wandb.run is None  # finished: the next cell starts clean
    meta = json.loads((out / "wandb_run.json").read_text())
    assert {k: meta[k] for k in ("project", "group", "job_type", "name", "mode", "url")} == {
        "project": "ragft-test",
        "group": "single",
        "job_type": "rag",
        "name": "cell",
        "mode": "offline",
        "url": None,
    }
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    assert not (out / "results.json").exists()


@pytest.mark.slow
def test_wandb_offline_run_records_scores_and_finishes(tmp_path, monkeypatch):
    import wandb

    monkeypatch.delenv("WANDB_MODE", raising=False)
    out = tmp_path / "cell"
    with _tracker(out, LoggerConfig(name="wandb", project="ragft-test", mode="offline")) as t:
        _record(t, RESULTS, PREDICTIONS)
        assert t.run.summary["scores.f1"] == 0.5
        assert t.run.summary["cost.index_n_chunks"] == 4
        # exact_match is 1 and 0 on the two questions: its bootstrap CI spans both
        assert t.run.summary["scores.exact_match_ci_low"] == 0.0
        assert t.run.summary["scores.exact_match_ci_high"] == 1.0
        assert "scores.f1_ci_low" not in t.run.summary.keys()  # no per-question f1 values
        assert not [k for k in t.run.summary.keys() if k.startswith("scores/")]  # one key each
    assert wandb.run is None
    assert json.loads((out / "results.json").read_text()) == RESULTS


@pytest.mark.slow
def test_the_sweep_summary_run_holds_the_decision(tmp_path, monkeypatch):
    from ragft.report import build_report
    from ragft.wandb_runs import log_sweep_summary

    from .report_sweeps import make_sweep

    monkeypatch.delenv("WANDB_MODE", raising=False)
    sweep = make_sweep(tmp_path)
    rep = build_report(sweep)
    log_sweep_summary(sweep, rep, LoggerConfig(name="wandb", project="ragft-test", mode="offline"))
    runs = list((sweep / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    blob = next(runs[0].glob("*.wandb")).read_bytes()  # the offline run as W&B will upload it
    summary = rep.verdict.summary()
    assert summary["best"] == "hybrid r=16 bm25" and summary["runner_up"] == "rag bm25"
    assert summary["margin"] == pytest.approx(0.2)
    assert summary["margin_low"] <= summary["margin"] <= summary["margin_high"]
    for key in ("margin_p_holm", "margin_significant", "runner_up_score", "decision"):
        assert key.encode() in blob
    assert b'"hybrid r=16 bm25"' in blob and b"pairwise" in blob and b"comparison" in blob
    assert b"vs_reference" in blob  # each cell's difference from the base row, as a table
    assert rep.verdict.html().startswith("<b>hybrid r=16 bm25</b> is best on <code>contains")
