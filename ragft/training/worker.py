"""One rank started by `launch.run_workers`: `python -m ragft.training.worker <job.json>`.

It loads the model from the spec's resolved source on its own device (no config, no Hydra),
trains its share of the batches, and global rank 0 saves the result where the job says.
The package does not import this module, so `python -m` runs it without a second copy.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch

from ragft.modeling import load_source
from ragft.ranks import cuda_index, global_rank, local_rank
from ragft.training.fit import fit_and_save
from ragft.training.specs import TrainSpec


def worker_main(job_file: str) -> None:
    """Load the model on this rank's device, train, and (rank 0) save into job["out"]."""
    logging.basicConfig(level=logging.INFO, format=f"[rank {global_rank()}] %(message)s")
    job = json.loads(Path(job_file).read_text())
    spec = TrainSpec.from_json(job["spec"])
    gpu = None
    if torch.cuda.is_available() and spec.devices.accelerator in ("gpu", "cuda", "auto"):
        gpu = cuda_index(spec.devices.devices, local_rank())  # the GPU Lightning uses
        torch.cuda.set_device(gpu)
    model, tokenizer = load_source(spec.model, spec.quant, gpu=gpu)
    loggers = []
    if job["csv"] and global_rank() == 0:
        from pytorch_lightning.loggers import CSVLogger

        loggers.append(CSVLogger(**job["csv"]))
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    fit_and_save(
        model, tokenizer, job["tokenized"], spec, Path(job["ckpt_dir"]), Path(job["out"]), loggers
    )


if __name__ == "__main__":
    worker_main(sys.argv[1])
