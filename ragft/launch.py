"""Where training ranks come from: one process, ranks started by ragft, or ranks started outside.

Lightning's `ddp` strategy starts its extra ranks by re-running `sys.argv`. Inside a Hydra
multirun that re-runs the whole sweep in every rank (Lightning #11300, Hydra #2070), and
`ddp_spawn` pickles the model into fresh interpreters that cannot see Hydra's state. So ragft
never lets Lightning launch ranks from the Hydra process. Three modes:

- `local`: one device and no DDP strategy: Lightning trains in the cell's own process.
- `workers`: DDP on this machine (`trainer.devices` > 1, or a `ddp*` strategy). The cell (the
  Hydra process) writes a spec file and starts `python -m torch.distributed.run --standalone
  --nproc_per_node=N -m ragft.launch <spec>`: N fresh processes, none of them Hydra, form
  their own process group, train, and rank 0 writes the adapter into the cache entry the cell
  is building. The cell then loads that adapter and evaluates once. A sweep runs one such
  group per training cell, one after the other.
- `external`: the ranks were started outside ragft, one run.py per rank (SLURM tasks through
  `hydra/launcher=slurm_ddp`, or `torchrun ... run.py`). Every rank runs the cell up to the
  end of training (Lightning picks up the SLURM or torchelastic environment); only global
  rank 0 evaluates and writes files and W&B, the others return once training is done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ragft.errors import ConfigError, RagftError
from ragft.ranks import (  # noqa: F401 - re-exported for callers of launch
    _slurm_tasks,
    cuda_index,
    external_world_size,
    global_rank,
    local_rank,
    torchelastic_launched,
)

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
    import torch

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


def run_workers(nproc: int, job: dict[str, Any], spec_dir: Path) -> None:
    """Train in `nproc` fresh processes (one process group); return when all have finished.

    `job` is what `worker_main` needs (JSON-able). Rank 0 writes the adapter to job["out"].
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
        "ragft.launch",
        str(spec_file),
    ]
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("SLURM_")]:
        env.pop(key)  # the workers' ranks are torchrun's, not the enclosing SLURM job's
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    package_root = str(Path(__file__).resolve().parents[1])  # ragft importable from any cwd
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    log.info("training in %d processes: %s", nproc, " ".join(cmd))
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode != 0:  # the spec stays, to re-run one rank by hand
        raise RagftError(
            f"training in {nproc} processes failed (exit status {proc.returncode}); the "
            f"ranks' errors are printed above. Spec: {spec_file}"
        )
    shutil.rmtree(spec_dir, ignore_errors=True)


def worker_job(
    spec, tokenized: list[dict], ckpt_dir: Path, out: Path, cache_root: Path, csv
) -> dict[str, Any]:
    """The JSON a worker reads: the training spec, the tokenised data and where to write."""
    if spec.model is None:
        raise RagftError("multi-process training needs TrainSpec.model (the model config)")
    return {
        "model": asdict(spec.model),
        "model_fingerprint": spec.model_fingerprint,
        "lora": asdict(spec.lora),
        "quant": asdict(spec.quant),
        "trainer": asdict(spec.trainer),
        "seed": spec.seed,
        "tokenized": tokenized,
        "ckpt_dir": str(ckpt_dir),
        "out": str(out),
        "cache_root": str(cache_root),
        "csv": csv,
    }


def _spec_from(job: dict[str, Any]):
    from ragft.config import LoraConfig, ModelConfig, QuantConfig, TinyModelConfig, TrainerConfig
    from ragft.training import TrainSpec

    model = dict(job["model"])
    model["tiny"] = TinyModelConfig(**model["tiny"])
    return TrainSpec(
        model_fingerprint=job["model_fingerprint"],
        lora=LoraConfig(**job["lora"]),
        quant=QuantConfig(**job["quant"]),
        trainer=TrainerConfig(**job["trainer"]),
        seed=job["seed"],
        model=ModelConfig(**model),
    )


def worker_main(spec_file: str) -> None:
    """One rank started by `run_workers`: load the model on its device, train, rank 0 saves."""
    import pytorch_lightning as pl
    import torch

    from ragft import modeling, training
    from ragft.cache import Cache

    logging.basicConfig(level=logging.INFO, format=f"[rank {global_rank()}] %(message)s")
    job = json.loads(Path(spec_file).read_text())
    spec = _spec_from(job)
    gpu = None
    if torch.cuda.is_available() and spec.trainer.accelerator in ("gpu", "cuda", "auto"):
        gpu = cuda_index(spec.trainer.devices, local_rank())  # the GPU Lightning uses
        torch.cuda.set_device(gpu)
    cache = Cache(job["cache_root"])
    model, tokenizer, _ = modeling.load(spec.model, spec.quant, cache, spec.seed, gpu=gpu)
    loggers = []
    if job["csv"] and global_rank() == 0:
        from pytorch_lightning.loggers import CSVLogger

        loggers.append(CSVLogger(**job["csv"]))
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    training.fit_and_save(
        model, tokenizer, job["tokenized"], spec, Path(job["ckpt_dir"]), Path(job["out"]), loggers
    )


def spec_dir_for(cache_root: Path) -> Path:
    (cache_root / "jobs").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="train-", dir=cache_root / "jobs"))


if __name__ == "__main__":
    worker_main(sys.argv[1])
