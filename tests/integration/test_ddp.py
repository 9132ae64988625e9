"""trainer.devices=2 on the CPU (gloo): a single run and a two-cell multirun.

Each training runs in its own two-process group (ragft.training.launch), outside Hydra, so the
sweep is not re-run by the extra rank. Evaluation happens once, in the cell's process: the
scores of the 2-process cell equal those of a 1-process evaluation of the adapter it
produced, and a second 2-process training from scratch gives the same adapter bit for bit,
as do two run.py processes started the way SLURM starts the tasks of hydra/launcher=slurm_ddp.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT, TINY, run_py

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def assert_same_scores(got: dict, swept_results: dict) -> None:
    """The same answers, so the same string scores exactly; `semantic` (an embedding cosine)
    within float noise: the embedder's matmuls sum in another order under another thread
    count (a rank process after gloo training vs the sweep's process)."""
    want = swept_results["scores"]
    assert set(got) == set(want)
    assert {k: v for k, v in got.items() if k != "semantic"} == {
        k: v for k, v in want.items() if k != "semantic"
    }
    assert got.get("semantic") == pytest.approx(want.get("semantic"), abs=1e-6)


DDP = ("trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp")
# Enough training that the answers are not all empty: a seen phrasing, full fine-tuning.
SMALL = (
    "data.n_train_phrasings=2",
    "data.eval_split=seen",
    "generation.max_new_tokens=8",
    "lora=none",
    "trainer.max_epochs=16",
    "trainer.learning_rate=1e-2",
    "trainer.batch_size=2",
    "retriever=bm25",
)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """`-m approach=finetune,raft` with two training processes per cell."""
    out = tmp_path_factory.mktemp("ddp-sweep")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "-m",
            *TINY,
            *SMALL,
            *DDP,
            "approach=finetune,raft",
            f"hydra.sweep.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (out / "stdout.txt").write_text(proc.stdout)
    return out


def cells(sweep: Path) -> dict[str, Path]:
    return {
        json.loads((d / "results.json").read_text())["approach"]: d
        for d in sorted(sweep.iterdir())
        if (d / "results.json").is_file()
    }


def test_multirun_trains_each_cell_in_two_processes_and_runs_the_sweep_once(sweep):
    found = cells(sweep)
    assert sorted(found) == ["finetune", "raft"]
    # a rank re-running sys.argv would have started the sweep again: more cells, more starts
    assert sorted(
        d.name.split("_")[0] for d in sweep.iterdir() if d.is_dir() and d.name[0] in "0123456789"
    ) == ["0", "1"]
    stdout = (sweep / "stdout.txt").read_text()
    assert stdout.count("cell 1 of 2") == 1 and stdout.count("cell 2 of 2") == 1
    for approach, d in found.items():
        r = json.loads((d / "results.json").read_text())
        assert r["status"] == "ok", r.get("error")
        cost = r["cost"]
        assert cost["train_world_size"] == 2 and cost["train_strategy"] == "DDPStrategy", approach
        assert cost["train_cache_hit"] is False and cost["train_steps"] > 0
        rows = (d / "predictions.jsonl").read_text().splitlines()
        assert len(rows) == r["n_eval"]  # evaluated once, not once per rank
        assert (d / "train" / "metrics.csv").is_file()  # rank 0's loss curve
    assert not list((Path(os.environ["RAGFT_CACHE_DIR"]) / "jobs").glob("train-*"))


def test_two_process_scores_equal_a_one_process_evaluation_of_the_same_adapter(sweep):
    """Load the adapter the 2-process cell produced, answer in this (one) process, score."""
    from ragft import answering, metrics, modeling, prompting
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig, TinyModelConfig
    from ragft.types import Prediction, QAExample

    cell = cells(sweep)["finetune"]
    results = json.loads((cell / "results.json").read_text())
    rows = [json.loads(line) for line in (cell / "predictions.jsonl").read_text().splitlines()]
    model_cfg = results["config"]["model"]
    tiny = TinyModelConfig(**model_cfg.pop("tiny"))
    model_cfg = ModelConfig(**model_cfg, tiny=tiny)
    loaded = modeling.load(model_cfg, QuantConfig(), Cache(), seed=results["config"]["seed"])
    base, tok = loaded.model, loaded.tokenizer
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(cell / "adapter").eval()  # lora=none: weights
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in base.parameters())
    g = results["config"]["generation"]
    answer = answering.local(  # the cell's way: its inference dtype, the first-line stop
        model, tok, max_new_tokens=g["max_new_tokens"], batch_size=g["batch_size"],
        max_input_tokens=model_cfg.max_input_tokens, progress=False,
        dtype=modeling.inference_dtype(model_cfg.inference_dtype, model),
    )  # fmt: skip
    outs, _ = answer([r["prompt"] for r in rows])
    assert [o.text for o in outs] == [r["raw_output"] for r in rows]
    predictions = [
        Prediction(
            example=QAExample(id=r["id"], question=r["question"], answers=tuple(r["golds"])),
            prompt=r["prompt"],
            answer=prompting.extract_answer(o.text),
            passages=(),
            new_tokens=o.new_tokens,
        )
        for r, o in zip(rows, outs, strict=True)
    ]
    scores, _ = metrics.score_predictions(
        predictions, list(results["config"]["metrics"]["answer"]), None
    )
    two_process = {k: v for k, v in results["scores"].items() if k in scores}
    assert scores == two_process
    assert any(r["raw_output"].strip() for r in rows)  # not an all-empty comparison
    assert max(scores.values()) > 0
    print("devices=2 cell:", two_process, "\n1-process evaluation:", scores)


def test_single_run_two_processes_from_scratch_gives_the_same_adapter(sweep, tmp_path):
    """`python run.py trainer.devices=2` (no -m) in a cache without the sweep's adapter."""
    cache = tmp_path / "cache"
    src = Path(os.environ["RAGFT_CACHE_DIR"])
    shutil.copytree(
        src, cache, ignore=shutil.ignore_patterns("adapter", "cell", "checkpoints", "jobs")
    )
    res = run_py(tmp_path / "one", *SMALL, *DDP, "approach=finetune", f"cache.dir={cache}")
    assert res.returncode == 0, res.stderr[-4000:]
    cost = res.results["cost"]
    assert cost["train_world_size"] == 2 and cost["train_cache_hit"] is False
    swept = cells(sweep)["finetune"]
    mine = res.out_dir / "adapter" / "model.safetensors"
    assert mine.read_bytes() == (swept / "adapter" / "model.safetensors").read_bytes()
    assert_same_scores(res.results["scores"], json.loads((swept / "results.json").read_text()))
    assert len(res.predictions) == res.results["n_eval"]


def test_slurm_tasks_train_together_and_only_rank_0_writes(sweep, tmp_path):
    """What hydra/launcher=slurm_ddp starts: one run.py per task, ranks from SLURM's variables.

    Two tasks on this machine with the variables srun sets; Lightning's SLURMEnvironment
    forms the group. (torchrun-started run.py ranks take the same path.)
    """
    cache = tmp_path / "cache"
    src = Path(os.environ["RAGFT_CACHE_DIR"])
    shutil.copytree(
        src, cache, ignore=shutil.ignore_patterns("adapter", "cell", "checkpoints", "jobs")
    )
    out = tmp_path / "slurm"
    args = [*TINY, *SMALL, *DDP, "approach=finetune", f"cache.dir={cache}", f"hydra.run.dir={out}"]
    args += ["logger=wandb", "logger.mode=offline"]
    port = str(29500 + os.getpid() % 1000)
    tasks = []
    for rank in (0, 1):
        env = dict(os.environ, SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2", SLURM_NNODES="1")
        env.update(SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_NODEID="0")
        env.update(SLURM_JOB_ID="4242", SLURM_JOB_NAME="run", SLURM_NODELIST="localhost")
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        tasks.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [t.communicate(timeout=600) for t in tasks]
    for t, (stdout, stderr) in zip(tasks, outputs, strict=True):
        assert t.returncode == 0, stdout[-2000:] + stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert results["cost"]["train_world_size"] == 2 and results["cost"]["train_cache_hit"] is False
    assert len((out / "predictions.jsonl").read_text().splitlines()) == results["n_eval"]
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1  # one W&B run, rank 0's
    assert "finetune on fictional-kb" in outputs[0][0]
    assert "finetune on fictional-kb" not in outputs[1][0]  # rank 1 trained, then left
    swept = cells(sweep)["finetune"]
    assert (out / "adapter" / "model.safetensors").read_bytes() == (
        swept / "adapter" / "model.safetensors"
    ).read_bytes()
    assert_same_scores(results["scores"], json.loads((swept / "results.json").read_text()))


def test_a_second_slurm_rank_of_a_cell_that_does_not_train_writes_nothing(tmp_path):
    """Only global rank 0 evaluates and writes, also in cells with nothing to train."""
    env = dict(os.environ, SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2", SLURM_NNODES="1")
    env.update(SLURM_PROCID="1", SLURM_LOCALID="1", SLURM_NODEID="0")
    env.update(SLURM_JOB_ID="4242", SLURM_JOB_NAME="run", SLURM_NODELIST="localhost")
    out = tmp_path / "rank1"
    cmd = [sys.executable, str(ROOT / "run.py"), *TINY, "approach=base", f"hydra.run.dir={out}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "results.json").exists() and not (out / "predictions.jsonl").exists()
