"""Where training ranks come from: one process, ranks started by ragft, or ranks started outside.

Lightning's `ddp` strategy starts its extra ranks by re-running `sys.argv`. Inside a Hydra
multirun that re-runs the whole sweep in every rank (Lightning #11300, Hydra #2070), and
`ddp_spawn` pickles the model into fresh interpreters that cannot see Hydra's state. So ragft
never lets Lightning launch ranks from the Hydra process. Three modes:

- `local`: one device and no DDP strategy: Lightning trains in the cell's own process.
- `workers`: DDP on this machine (`trainer.devices` > 1, or a `ddp*` strategy). The cell (the
  Hydra process) writes a spec file and starts `python -m torch.distributed.run --standalone
  --nproc_per_node=N -m ragft.training.worker <spec>`: N fresh processes, none of them
  Hydra, form their own process group, train, and rank 0 writes the adapter into the cache
  entry the cell is building. The cell then loads that adapter and evaluates once. A sweep
  runs one such group per training cell, one after the other.
- `external`: the ranks were started outside ragft, one run.py per rank (SLURM tasks through
  `hydra/launcher=slurm_ddp`, or `torchrun ... run.py`). Every rank runs the cell up to the
  end of training (Lightning picks up the SLURM or torchelastic environment); only global
  rank 0 evaluates and writes files and W&B, the others return once training is done.

All three share one cache-hit path (in `ragft.training`): an adapter already in the cache is
loaded, never trained again.
"""

from __future__ import annotations

import csv as csv_module
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from ragft.errors import ConfigError, RagftError
from ragft.ranks import _slurm_tasks, external_world_size, torchelastic_launched
from ragft.training.specs import TrainSpec

log = logging.getLogger(__name__)

DDP_STRATEGIES = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true")
# Strategies that would make Lightning launch processes itself: the ranks ragft starts use ddp.
_SELF_LAUNCHING = ("auto", "ddp_spawn", "ddp_fork", "ddp_notebook")


def requested_world_size(accelerator: str, devices: Any, num_nodes: int) -> int:
    """devices x num_nodes as Lightning counts them (an int, a list of ids, "auto" or -1)."""
    if isinstance(devices, (list, tuple)):
        per_node = len(devices)
    elif isinstance(devices, str) and "," in devices:
        per_node = len([d for d in devices.split(",") if d.strip()])
    elif str(devices) in ("auto", "-1"):
        per_node = _visible_gpus() if accelerator in ("gpu", "cuda", "auto") else 1
    else:
        per_node = int(devices)
    return max(per_node, 1) * max(num_nodes, 1)


def _visible_gpus() -> int:
    return max(torch.cuda.device_count(), 1)


def mode(accelerator: str, devices: Any, num_nodes: int, strategy: str) -> str:
    """`local`, `workers` or `external` (see the module docstring); raises ConfigError."""
    wanted = requested_world_size(accelerator, devices, num_nodes)
    started = external_world_size()
    if started > 1:
        if started != wanted:
            raise ConfigError(
                [
                    f"{started} ranks were started (SLURM tasks / torchrun) but trainer.devices "
                    f"x trainer.num_nodes = {wanted}; make them equal (with "
                    "hydra/launcher=slurm_ddp, hydra.launcher.tasks_per_node = trainer.devices "
                    "and hydra.launcher.nodes = trainer.num_nodes)"
                ]
            )
        return "external"
    if num_nodes > 1:
        raise ConfigError(
            [
                f"trainer.num_nodes={num_nodes} needs one process per GPU on every node, "
                "started by SLURM (hydra/launcher=slurm_ddp) or by torchrun on each node"
            ]
        )
    if wanted > 1 or strategy in DDP_STRATEGIES:
        return "workers"
    return "local"


def strategy_for(strategy: str, started_externally: bool) -> str:
    """The Lightning strategy inside ranks that someone else started: plain `ddp`.

    (`ddp_spawn` and friends would launch processes again; `auto` would not form a group.)
    """
    if started_externally and strategy in _SELF_LAUNCHING:
        return "ddp"
    return strategy


def cluster_plugins() -> list:
    """Lightning's cluster environment for externally started ranks, named explicitly.

    Ranks started by ragft run under torchelastic, even inside a SLURM allocation whose task
    count is not theirs; SLURM requeueing stays with submitit (auto_requeue off), which
    handles preemption for the Hydra job.
    """
    if torchelastic_launched():
        from lightning_fabric.plugins.environments import TorchElasticEnvironment

        return [TorchElasticEnvironment()]
    if _slurm_tasks():
        from lightning_fabric.plugins.environments import SLURMEnvironment

        return [SLURMEnvironment(auto_requeue=False)]
    return []


# ---- ranks started by ragft ----------------------------------------------------------------


def train_in_workers(
    model, tokenized: list[dict], spec: TrainSpec, cache_root: Path, ckpt_dir: Path, out: Path,
    loggers: list | None,
) -> None:  # fmt: skip
    """DDP on this machine in fresh processes (never Hydra's): rank 0 writes into `out`."""
    d = spec.devices
    n = requested_world_size(d.accelerator, d.devices, d.num_nodes)
    csv = None
    for lg in loggers or []:
        if isinstance(lg, pl.loggers.CSVLogger):
            csv = {"save_dir": lg.save_dir, "name": lg.name, "version": lg.version}
    job = worker_job(spec, tokenized, ckpt_dir, out, csv)
    # the cell's own copy leaves the GPU while the ranks train (quantised weights cannot move)
    on_gpu = next(model.parameters()).is_cuda and spec.quant is None
    if on_gpu:
        model.to("cpu")
        torch.cuda.empty_cache()
    try:
        run_workers(n, job, spec_dir_for(cache_root))
    finally:
        if on_gpu:
            model.to(f"cuda:{torch.cuda.current_device()}")
    if csv:  # the loss curve the ranks wrote, replayed into the cell's other loggers (W&B)
        replay_metrics(Path(csv["save_dir"]) / csv["name"] / "metrics.csv", loggers or [])


def replay_metrics(csv_file: Path, loggers: list) -> None:
    """Log the rows of a CSVLogger's metrics file into `loggers` (all but CSV loggers)."""
    others = [lg for lg in loggers if not isinstance(lg, pl.loggers.CSVLogger)]
    if not others or not csv_file.is_file():
        return
    with csv_file.open() as fh:
        for row in csv_module.DictReader(fh):
            step = int(float(row.pop("step", 0) or 0))
            metrics = {k: float(v) for k, v in row.items() if v not in ("", None)}
            for lg in others:
                lg.log_metrics(metrics, step=step)


def worker_job(
    spec: TrainSpec, tokenized: list[dict], ckpt_dir: Path, out: Path, csv: dict | None
) -> dict[str, Any]:
    """The JSON a worker reads: the training spec, the tokenised data and where to write."""
    if spec.model is None:
        raise RagftError(
            "multi-process training needs TrainSpec.model (where the model loads from)"
        )
    return {
        "spec": spec.to_json(),
        "tokenized": tokenized,
        "ckpt_dir": str(ckpt_dir),
        "out": str(out),
        "csv": csv,
    }


def run_workers(nproc: int, job: dict[str, Any], spec_dir: Path) -> None:
    """Train in `nproc` fresh processes (one process group); return when all have finished.

    `job` is what `ragft.training.worker` reads (JSON-able). Rank 0 writes the adapter to
    job["out"].
    """
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec_file = spec_dir / "train_job.json"
    spec_file.write_text(json.dumps(job))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a private rendezvous on a free local port: sweeps never collide
        "--nnodes=1",
        f"--nproc_per_node={nproc}",
        "-m",
        "ragft.training.worker",
        str(spec_file),
    ]
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("SLURM_")]:
        env.pop(key)  # the workers' ranks are torchrun's, not the enclosing SLURM job's
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    package_root = str(Path(__file__).resolve().parents[2])  # ragft importable from any cwd
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    log.info("training in %d processes: %s", nproc, " ".join(cmd))
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode != 0:  # the spec stays, to re-run one rank by hand
        raise RagftError(
            f"training in {nproc} processes failed (exit status {proc.returncode}); the "
            f"ranks' errors are printed above. Spec: {spec_file}"
        )
    shutil.rmtree(spec_dir, ignore_errors=True)


def spec_dir_for(cache_root: Path) -> Path:
    """A fresh folder for one worker job's spec file, under the cache's `jobs/`."""
    (cache_root / "jobs").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="train-", dir=cache_root / "jobs"))
