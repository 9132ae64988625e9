"""Which process this is: ranks started outside ragft (SLURM tasks, torchrun), from the environment.

Plain functions of `os.environ`, imported by the stages that place work on a rank (model
loading, training) and by run.py (only global rank 0 evaluates and writes).
"""

from __future__ import annotations

import os


def _slurm_tasks() -> bool:
    """A SLURM step with tasks (as Lightning sees it: not an interactive `srun --pty bash`)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in (
        "bash",
        "interactive",
    )


def torchelastic_launched() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ and "WORLD_SIZE" in os.environ


def external_world_size() -> int:
    """How many ranks were started outside ragft (torchrun or SLURM tasks); 1 if none."""
    if torchelastic_launched():
        return int(os.environ["WORLD_SIZE"])
    if _slurm_tasks():
        return int(os.environ["SLURM_NTASKS"])
    return 1


def global_rank() -> int:
    """This process's rank among externally started ranks (0 when there are none)."""
    if torchelastic_launched():
        return int(os.environ.get("RANK", 0))
    if _slurm_tasks():
        return int(os.environ.get("SLURM_PROCID", 0))
    return 0


def local_rank() -> int:
    """This process's rank on its node: the GPU it uses."""
    if torchelastic_launched():
        return int(os.environ.get("LOCAL_RANK", 0))
    if _slurm_tasks():
        return int(os.environ.get("SLURM_LOCALID", 0))
    return 0


def cuda_index(devices, local_rank: int) -> int:
    """The GPU of local rank `local_rank` under Lightning's `devices` (a count or a list)."""
    if isinstance(devices, str) and "," in devices:
        devices = [int(d) for d in devices.split(",") if d.strip()]
    if isinstance(devices, (list, tuple)):
        return int(devices[local_rank])
    return local_rank
