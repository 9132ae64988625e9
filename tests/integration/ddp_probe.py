"""A rank of `ragft.training.worker`, watched: what test_ddp_correctness.py starts under
`torch.distributed.run` instead of `-m ragft.training.worker`.

It runs the real worker (`worker_main`: model loaded from the job's source, Lightning's DDP,
the sharding sampler) with one extra Lightning callback that records, per rank, every batch
it trained on (which examples, how many tokens) and, at the end, the rank's own weights.
`RAGFT_TEST_NO_ALLREDUCE=1` registers a DDP communication hook that skips the gradient
all-reduce: the broken DDP that the correctness checks must catch.

    python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_probe.py JOB PROBE_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch

from ragft.ranks import global_rank
from ragft.training import worker


def no_allreduce(state, bucket):
    """A DDP comm hook that leaves every rank with its own gradients (no averaging)."""
    fut = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


class Probe(pl.Callback):
    """Per rank: the first token of every example of every batch (the tests give each example
    a distinct first token), its token count, the optimizer steps, the final weights."""

    def __init__(self, out: Path, break_allreduce: bool):
        self.out, self.break_allreduce = out, break_allreduce
        self.batches: list[dict] = []

    def on_train_start(self, trainer, pl_module) -> None:
        if self.break_allreduce:
            trainer.strategy.model.register_comm_hook(None, no_allreduce)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(
            {
                "epoch": int(trainer.current_epoch),
                "first_tokens": batch["input_ids"][:, 0].tolist(),
                "tokens": int(batch["attention_mask"].sum()),
            }
        )

    def on_train_end(self, trainer, pl_module) -> None:
        rank = global_rank()
        weights = {n: p.detach().cpu().clone() for n, p in pl_module.model.named_parameters()}
        torch.save(weights, self.out / f"rank{rank}.pt")
        record = {
            "world_size": int(trainer.world_size),
            "steps": int(trainer.global_step),
            "batches": self.batches,
        }
        (self.out / f"rank{rank}.json").write_text(json.dumps(record))


def main(job_file: str, probe_dir: str) -> None:
    out = Path(probe_dir)
    out.mkdir(parents=True, exist_ok=True)
    probe = Probe(out, os.environ.get("RAGFT_TEST_NO_ALLREDUCE") == "1")
    real = worker.fit_and_save

    def watched(*args, **kwargs):
        return real(*args, **kwargs, callbacks=[probe])

    worker.fit_and_save = watched  # worker_main calls it by this module-level name
    worker.worker_main(job_file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
