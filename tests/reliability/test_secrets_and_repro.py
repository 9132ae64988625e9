"""No secret lands in any file a run writes; the same cell run twice gives the same answers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..helpers import ROOT, run_cmd
from .helpers import files_under, seed_cache, warm_model_cache

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WANDB_MARKER = "ragftSECRETwandb0123456789abcdef01234567"  # 40 characters, like a real key
HF_MARKER = "hf_ragftSECRETtoken0123456789abcdefABCDEF"
CELL = ("approach=rag", "retriever=bm25", "retriever.k=2", "data.max_eval=6")


def run(out: Path, cache: Path, *extra: str, env: dict | None = None):
    full_env = dict(os.environ, RAGFT_CACHE_DIR=str(cache), **(env or {}))
    return subprocess.run(
        run_cmd(*CELL, f"hydra.run.dir={out}", *extra),
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same cell twice, in separate caches (nothing replayed): once with W&B offline and
    secrets in the environment, once without."""
    model_cache = warm_model_cache()
    tmp = tmp_path_factory.mktemp("secrets")
    a_cache = seed_cache(model_cache, tmp / "cache-a")
    b_cache = seed_cache(model_cache, tmp / "cache-b")
    secret_env = {
        "WANDB_API_KEY": WANDB_MARKER,
        "HF_TOKEN": HF_MARKER,
        "HUGGING_FACE_HUB_TOKEN": HF_MARKER,
    }
    a = run(tmp / "a", a_cache, "logger=wandb", "logger.mode=offline", env=secret_env)
    assert a.returncode == 0, a.stderr[-3000:]
    b = run(tmp / "b", b_cache)
    assert b.returncode == 0, b.stderr[-3000:]
    return tmp, a, b


@pytest.mark.measures("leaked")
def test_no_secret_in_any_file_the_run_writes(two_runs, tally):
    tmp, proc, _ = two_runs
    out = tmp / "a"
    written = files_under(out, tmp / "cache-a")
    assert any(f.name == "results.json" for f in written)
    assert any("offline-run-" in str(f) for f in written), "W&B offline files were written"
    leaks = []
    for f in written:
        blob = f.read_bytes()
        leaks += [f"{f}: {m[:12]}..." for m in (WANDB_MARKER, HF_MARKER) if m.encode() in blob]
    for name, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        leaks += [f"{name}: {m[:12]}..." for m in (WANDB_MARKER, HF_MARKER) if m in text]
    tally.leaked(len(leaks))
    assert not leaks, leaks


def test_same_cell_same_seed_same_predictions_and_scores(two_runs):
    tmp, _, _ = two_runs
    a, b = (json.loads((tmp / n / "results.json").read_text()) for n in ("a", "b"))
    assert not a["cost"].get("cell_cache_hit") and not b["cost"].get("cell_cache_hit")
    assert a["scores"] == b["scores"]
    assert rows(tmp / "a") == rows(tmp / "b")
