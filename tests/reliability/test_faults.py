"""Faults: killed training and sweeps, corrupt cache entries and checkpoints, an unwritable
output folder, and two sweeps sharing one cache at once. Nothing finished may be lost."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ragft.cache import Cache, verify

from ..helpers import ROOT, run_cmd
from .helpers import run_many, seed_cache, warm_model_cache

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_cache() -> Path:
    return warm_model_cache()


def start(cmd: list[str], cache: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, RAGFT_CACHE_DIR=str(cache))
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
    )


def finish(cmd: list[str], cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAGFT_CACHE_DIR=str(cache))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def wait_for(proc: subprocess.Popen, ready, timeout: float = 600) -> None:
    """Poll until ready() or the process ends (the test then fails: the kill came too late)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the process finished before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.05)


def complete_file(path: Path) -> bool:
    """The file exists and has stopped growing (Lightning writes checkpoints in place)."""
    if not path.is_file():
        return False
    size = path.stat().st_size
    time.sleep(0.2)
    return size > 0 and path.stat().st_size == size


def loss_steps(metrics_csv: Path) -> list[int]:
    """The optimizer steps a run logged a training loss for (Lightning's CSVLogger file)."""
    with metrics_csv.open() as fh:
        return [int(r["step"]) for r in csv.DictReader(fh) if r.get("train/loss")]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.measures("fault")
@pytest.mark.slow
def test_sigkill_during_training_resumes_and_matches_an_uninterrupted_run(
    tmp_path, model_cache, tally
):
    import torch
    from safetensors.torch import load_file

    killed_cache = seed_cache(model_cache, tmp_path / "cache-killed")
    ref_cache = seed_cache(model_cache, tmp_path / "cache-ref")
    train = ("approach=finetune", "trainer.max_epochs=6", "trainer.batch_size=4")
    cmd = run_cmd(*train, f"hydra.run.dir={tmp_path / 'killed'}")

    # the uninterrupted reference runs alongside, in its own cache (nothing shared)
    ref_proc = start(
        run_cmd(*train, f"hydra.run.dir={tmp_path / 'ref'}"), ref_cache, tmp_path / "ref.log"
    )
    proc = start(cmd, killed_cache, tmp_path / "first.log")
    ckpts = killed_cache / "checkpoints"
    wait_for(proc, lambda: any(complete_file(p) for p in ckpts.glob("*/last.ckpt")))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not list((killed_cache / "adapter").glob("[!.]*")), "no adapter may be cached"
    assert not (tmp_path / "killed" / "results.json").exists()
    # the kill came mid-training: the checkpoint holds some steps, not the last epoch
    (ckpt,) = ckpts.glob("*/last.ckpt")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert 0 <= state["epoch"] < 6 - 1, state["epoch"]
    steps_before_kill = int(state["global_step"])
    assert steps_before_kill > 0

    again = finish(cmd, killed_cache)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "training: resuming from" in log, log[-3000:]
    resumed = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert resumed["cost"]["resumed"] is True
    assert not list(ckpts.glob("*/last.ckpt")), "the checkpoint is dropped once the adapter is"

    assert ref_proc.wait(timeout=600) == 0, (tmp_path / "ref.log").read_text()[-3000:]
    expected = json.loads((tmp_path / "ref" / "results.json").read_text())
    assert expected["cost"]["resumed"] is False
    assert resumed["scores"] == expected["scores"]
    assert resumed["cost"]["train_steps"] == expected["cost"]["train_steps"]
    # the re-run took only the steps after the checkpoint (a restart would take them all):
    # its loss curve (train/metrics.csv, rewritten by each run) starts where the kill left off
    rerun_steps, ref_steps = (
        loss_steps(tmp_path / d / "train" / "metrics.csv") for d in ("killed", "ref")
    )
    assert ref_steps == list(range(expected["cost"]["train_steps"]))
    assert rerun_steps == list(range(steps_before_kill, expected["cost"]["train_steps"]))
    assert rows(tmp_path / "killed" / "predictions.jsonl") == rows(
        tmp_path / "ref" / "predictions.jsonl"
    )
    weights = "adapter/adapter_model.safetensors"
    a, b = load_file(tmp_path / "killed" / weights), load_file(tmp_path / "ref" / weights)
    assert a.keys() == b.keys()
    for name in a:  # the resumed adapter is the uninterrupted one, bit for bit
        assert (a[name] == b[name]).all(), name
    tally.fault()


@pytest.mark.measures("fault", "lost")
@pytest.mark.slow
def test_sigkill_during_a_sweep_then_the_rerun_completes_only_the_missing_cells(
    tmp_path, model_cache, tally
):
    cache = seed_cache(model_cache, tmp_path / "cache")
    sweep_dir = tmp_path / "sweep"
    cmd = run_cmd(
        "-m",
        "approach=rag",
        "retriever=bm25",
        "retriever.k=1,2,3",
        "data.max_eval=4",
        f"hydra.sweep.dir={sweep_dir}",
    )
    proc = start(cmd, cache, tmp_path / "first.log")
    wait_for(proc, lambda: any(sweep_dir.glob("*/results.json")))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {
        p.parent.name: (json.loads(p.read_text()), rows(p.parent / "predictions.jsonl"))
        for p in sweep_dir.glob("*/results.json")
    }
    assert 1 <= len(before) < 3, sorted(before)

    again = finish(cmd, cache)
    assert again.returncode == 0, again.stderr[-3000:]
    after = {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/results.json")}
    assert len(after) == 3 and all(r["status"] == "ok" for r in after.values())
    lost = sum(
        1
        for name, (res, preds) in before.items()
        if name not in after
        or after[name]["scores"] != res["scores"]
        or rows(sweep_dir / name / "predictions.jsonl") != preds
    )
    tally.lost(lost)
    assert lost == 0
    for name, res in after.items():  # finished cells are replayed, the others computed
        assert bool(res["cost"].get("cell_cache_hit")) == (name in before), name
    tally.fault()


@pytest.mark.measures("fault")
def test_corrupt_cache_entry_is_detected_and_rebuilt(tmp_path, tally, caplog):
    cache = Cache(tmp_path)
    builds = []

    def build(out: Path) -> None:
        builds.append(out)
        (out / "weights.bin").write_bytes(os.urandom(1 << 16))
        (out / "meta.json").write_text('{"ok": true}')

    entry, hit = cache.get_or_build("index", {"k": 1}, build)
    assert not hit and verify(entry)
    key = entry.name
    with (entry / "weights.bin").open("r+b") as f:  # truncated, as by a full disk or a kill
        f.truncate(1000)
    assert cache.lookup("index", key) is None
    again, hit = cache.get_or_build("index", {"k": 1}, build)
    assert not hit and len(builds) == 2 and verify(again)
    assert "corrupt" in caplog.text
    assert (again / "weights.bin").stat().st_size == 1 << 16
    # a half-built entry left by a killed process is never used, and does not block a build
    (tmp_path / "index" / f".tmp-{key}-999-1").mkdir()
    (again / "MANIFEST.json").unlink()
    third, hit = cache.get_or_build("index", {"k": 1}, build)
    assert not hit and verify(third)
    tally.fault(2)


@pytest.mark.measures("fault")
def test_truncated_training_checkpoint_is_discarded(tmp_path, tally, caplog):
    import torch

    from ragft.training.fit import readable_checkpoint

    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(4096)}, "epoch": 1}, ckpt)
    assert readable_checkpoint(ckpt)
    blob = ckpt.read_bytes()
    ckpt.write_bytes(blob[: len(blob) // 2])  # killed while Lightning wrote it
    assert not readable_checkpoint(ckpt)
    assert not ckpt.exists() and "starts over" in caplog.text
    tally.fault()


@pytest.mark.measures("fault")
def test_unwritable_output_folder_fails_before_any_work(tmp_path, tally):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = tmp_path / "cache"
    got = run_many(
        [
            {
                "name": "run",
                "argv": ["model=tiny-llama", f"hydra.run.dir={blocker}/out"],
                "env": {"RAGFT_CACHE_DIR": str(cache)},
            },
            {
                "name": "sweep",
                "argv": ["-m", "approach=base,rag", f"hydra.sweep.dir={blocker}/sweep"],
                "env": {"RAGFT_CACHE_DIR": str(cache)},
            },
        ],
        tmp_path / "work",
    )
    for key, name in (("hydra.run.dir", "run"), ("hydra.sweep.dir", "sweep")):
        o = got[name]
        assert o["code"] == 2, o
        assert f"{key}={blocker}/" in o["stderr"] and "is a file, not a folder" in o["stderr"]
        assert "Traceback" not in o["stderr"]
    assert not cache.exists(), "no work (not even a cache folder) before the error"
    tally.fault(2)


@pytest.mark.measures("fault", "lost")
@pytest.mark.slow
def test_two_sweeps_sharing_one_cache_at_once(tmp_path, tally):
    cache = tmp_path / "shared-cache"  # empty: both build the model, indexes and cells at once
    procs = {
        name: start(
            run_cmd(
                "-m",
                "approach=base,rag",
                "retriever=bm25",
                "data.max_eval=4",
                f"hydra.sweep.dir={tmp_path / name}",
            ),
            cache,
            tmp_path / f"{name}.log",
        )
        for name in ("a", "b")
    }
    codes = {name: proc.wait(timeout=900) for name, proc in procs.items()}
    landed = {
        name: [json.loads(p.read_text()) for p in (tmp_path / name).glob("*/results.json")]
        for name in procs
    }
    tally.lost(sum(2 - len(cells) for cells in landed.values()))
    scores = {}
    for name, cells in landed.items():
        assert sorted(c["approach"] for c in cells) == ["base", "rag"]
        scores[name] = {c["approach"]: c["scores"] for c in cells}
    for name, code in codes.items():
        assert code == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
    assert scores["a"] == scores["b"]
    entries = [e for kind in cache.iterdir() if kind.is_dir() for e in kind.iterdir()]
    finished = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    leftovers = [e.name for e in entries if e.is_dir() and e.name.startswith((".tmp-", ".trash-"))]
    assert finished and all(verify(e) for e in finished), [e for e in finished if not verify(e)]
    assert not leftovers, leftovers
    assert len(list((cache / "cell").glob("[!.]*"))) == 2  # one entry per distinct cell
    tally.fault()
