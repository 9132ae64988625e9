"""The judged comparison (`experiment=compare-judged`) end to end: an LLM judge served by a
real `transformers serve` on 127.0.0.1, the control set, unanswerable questions with the
abstaining prompt, the report's sections; then the same sweep replayed and re-run with the
server gone, which must make zero judge requests (a request would fail its cell)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT, TINY, run_py, served_requests, tiny_model_folder, transformers_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPROACHES = ("base", "rag", "finetune", "hybrid", "raft")


def judged_sweep(sweep_dir: Path, cache: Path, base_url: str, model: str):
    args = [
        sys.executable, str(ROOT / "run.py"), "-m", *TINY,
        "experiment=compare-judged", f"hydra.sweep.dir={sweep_dir}", f"cache.dir={cache}",
        "data.n_unanswerable=2", "trainer.max_epochs=1",
        f"metrics.judge.endpoint.base_url={base_url}", f"metrics.judge.endpoint.model={model}",
        "metrics.judge.max_tokens=12", "metrics.judge.max_attempts=2",
        "metrics.judge.endpoint.max_retries=0", "metrics.judge.endpoint.timeout=60",
    ]  # fmt: skip
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1500)


def results(sweep_dir: Path) -> dict[str, dict]:
    out = {}
    for d in sorted(sweep_dir.iterdir()):
        if (d / "results.json").is_file():
            r = json.loads((d / "results.json").read_text())
            out[r["approach"]] = r
    return out


def test_compare_judged_judges_through_transformers_serve_and_replays_without_requests(tmp_path):
    cache = tmp_path / "cache"
    folder = tiny_model_folder(cache)
    log = tmp_path / "serve.log"
    with transformers_serve(folder, log) as base_url:
        first = judged_sweep(tmp_path / "first", cache, base_url, folder)
    assert first.returncode == 0, first.stderr[-4000:]
    cells = results(tmp_path / "first")
    assert set(cells) == set(APPROACHES)
    sent = served_requests(log)
    assert sent > 0
    # every request the cells say they sent reached the server; the journal shares the
    # judgements across cells (identical answers to a question are judged once)
    assert sum(c["evaluation"]["judge"]["requests_sent"] for c in cells.values()) == sent
    for name, c in cells.items():
        s, ev = c["scores"], c["evaluation"]
        # the random model never writes a rating: every judgement is missing, never 0
        assert ev["judge"]["rated"] + ev["judge"]["missing"] == 8, name
        assert "judge" not in s or ev["judge"]["rated"] > 0
        assert ev["abstention"] == {"n_answerable": 8, "n_unanswerable": 2}
        for key in (
            "accuracy",
            "abstain_rate",
            "hallucination_rate",
            "crag",
            "unanswerable_abstain_rate",
            "control",
            "control_base",
            "control_drop",
        ):
            assert key in s, (name, key)  # fmt: skip
        assert s["control_drop"] == pytest.approx(s["control_base"] - s["control"])
        assert ev["control"]["n"] == 64
        assert (tmp_path / "first").glob("*/control.jsonl")
    report = (tmp_path / "first" / "report" / "report.md").read_text()
    for section in ("Abstention", "Judge", "Control set", "Known vs unknown"):
        assert section in report, section
    assert (tmp_path / "first" / "report" / "accuracy_vs_hallucination.png").is_file()

    # The server is gone. A replay comes from the finished-cell cache...
    again = judged_sweep(tmp_path / "again", cache, base_url, folder)
    assert again.returncode == 0, again.stderr[-4000:]
    replayed = results(tmp_path / "again")
    assert all(c.get("reused_cell") for c in replayed.values())
    assert {a: c["scores"] for a, c in replayed.items()} == {
        a: c["scores"] for a, c in cells.items()
    }
    # ...and with that cache gone, the cells recompute their answers and the judge's
    # journal answers every request: still none reaches the (absent) server.
    shutil.rmtree(cache / "cell")
    rerun = judged_sweep(tmp_path / "rerun", cache, base_url, folder)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    recomputed = results(tmp_path / "rerun")
    for name, c in recomputed.items():
        assert not c.get("reused_cell")
        assert c["evaluation"]["judge"]["requests_sent"] == 0, name
        assert c["evaluation"]["judge"]["from_journal"] > 0, name
        assert c["scores"] == cells[name]["scores"], name


def test_an_eval_set_of_unanswerable_questions_only_warns_without_abstain(tmp_path):
    """Nothing to compare answers with and no way out offered: the cell runs, says the scores
    mean little, and scores abstention only."""
    qa = tmp_path / "qa.jsonl"
    rows = [{"id": f"u{i}", "question": f"Where did nobody {i} live?", "answers": []}
            for i in range(4)]  # fmt: skip
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run_py(tmp_path / "out", "approach=base", "retriever=none", "data=qa-jsonl",
                 f"data.path={qa}", "data.eval_fraction=1.0")  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    logged = res.stdout + res.stderr  # Hydra logs to the console
    assert "WARNING" in logged and "every eval question is unanswerable" in logged
    assert "prompt.abstain" in logged
    scores = res.results["scores"]
    assert "contains" not in scores and "exact_match" not in scores
    assert scores["unanswerable_abstain_rate"] + scores["unanswerable_hallucination_rate"] <= 1
    assert all(row["answerable"] is False for row in res.predictions)
