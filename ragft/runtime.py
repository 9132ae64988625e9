"""The process a cell runs in: seeds, stage timings, peak memory and what the machine
computes in.

In a sweep every cell runs in the same process, so each cell resets the peak-memory count
when it starts and reads it when it ends.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (training re-seeds through Lightning as well)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Stopwatch:
    """Seconds per named stage of one cell, and the seconds since the cell started."""

    def __init__(self) -> None:
        self.started = time.time()
        self.seconds: dict[str, float] = {}

    def time(self, key: str, fn: Callable[..., T], *args, **kwargs) -> T:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[key] = round(time.perf_counter() - t0, 3)
        return out

    def elapsed(self) -> float:
        return round(time.time() - self.started, 3)


def reset_peak_memory() -> None:
    """Start this cell's peak-memory count afresh: in a sweep, cells share one process.

    Linux resets the resident-set high-water mark (VmHWM) on `5 > /proc/self/clear_refs`;
    elsewhere the figure stays the process's lifetime peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.reset_peak_memory_stats()


def peak_memory_mb() -> float:
    """Peak resident memory of this cell (plus the GPU's peak allocation when used)."""
    try:
        status = Path("/proc/self/status").read_text()
        peak = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    peak_mb = peak / 1024
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        peak_mb += torch.cuda.max_memory_allocated() / 2**20
    return round(peak_mb, 1)


def resolved_inference_dtype(name: str, device_type: str | None = None) -> str:
    """`model.inference_dtype` with `auto` made concrete for this machine: bfloat16 on a GPU
    that has it and on a CPU that multiplies bf16 natively, float32 elsewhere. What decides a
    cell's answers, so a cell's identity holds it; on a machine with no GPU device this reads
    /proc/cpuinfo only (a cached cell replays without importing torch)."""
    if name != "auto":
        return name
    if device_type is None:
        device_type = "cpu"
        if any(Path(d).exists() for d in ("/dev/nvidiactl", "/dev/kfd")):  # a GPU: ask torch
            import torch

            device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if device_type == "cuda":
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_bf16() else "float32"


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX, from /proc/cpuinfo's
    flags; False where there is none); without, torch emulates bf16 and it is slower than
    float32."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return False
    flags = {f for ln in lines if ln.startswith("flags") for f in ln.split(":", 1)[1].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})
