"""The Lightning Trainer run: one fit of a model with its adapter attached, resumable from its
rolling checkpoint, and (on global rank 0) saving the result with its figures."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from ragft.errors import ConfigError
from ragft.ranks import external_world_size, global_rank, torchelastic_launched
from ragft.training.adapters import attach_adapter, save_trained
from ragft.training.batches import SupervisedDataModule
from ragft.training.launch import cluster_plugins, strategy_for
from ragft.training.module import CausalLMModule, packing_problem
from ragft.training.monitors import callbacks as own_callbacks
from ragft.training.specs import TrainSpec

log = logging.getLogger(__name__)


def fit_and_save(
    model,
    tokenizer,
    tokenized: list[dict],
    spec: TrainSpec,
    ckpt_dir: Path,
    out: Path,
    loggers: list | None = None,
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Attach the adapter, fit, and (global rank 0 only) save weights + stats into `out`."""
    model = attach_adapter(
        model, spec.adapter, spec.quant is not None, spec.fit.gradient_checkpointing
    )
    stats = fit_model(model, tokenizer, tokenized, spec, ckpt_dir, loggers, callbacks)
    if global_rank() == 0:
        save(model, tokenizer, spec, out, stats)
    return model, stats


def save(model, tokenizer, spec: TrainSpec, out: Path, stats: dict[str, Any]) -> None:
    """The trained weights and `train_stats.json` (what a cache hit reports) into `out`."""
    save_trained(model, tokenizer, spec.adapter is None, out)
    (out / "train_stats.json").write_text(json.dumps(stats, indent=1))


def fit_model(
    model,
    tokenizer,
    tokenized: list[dict],
    spec: TrainSpec,
    ckpt_dir: Path,
    loggers: list | None = None,
    callbacks: list | None = None,
) -> dict[str, Any]:
    """Fit `model` (its adapter attached) on `tokenized`; resume from `ckpt_dir` if it holds a
    readable checkpoint. Returns the figures train_stats.json holds."""
    f = spec.fit
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "training %s: %d examples, %s of %s parameters trainable",
        spec.kind,
        len(tokenized),
        f"{trainable:,}",
        f"{total:,}",
    )
    if f.packing and (problem := packing_problem(model)):
        raise ConfigError([problem])
    data = SupervisedDataModule(
        tokenized, tokenizer.pad_token_id, f.batch_size, spec.seed, f.val_fraction, f.packing
    )
    module = CausalLMModule(model, f.learning_rate, f.weight_decay, f.warmup_ratio)
    trainer = _trainer(spec, ckpt_dir, loggers, callbacks)
    last = ckpt_dir / "last.ckpt"
    resume = str(last) if readable_checkpoint(last) else None
    if resume:
        log.info("training: resuming from %s", last)
    model.train()
    started = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=resume)
    if trainer.interrupted:
        # Lightning turns Ctrl-C into a graceful stop; a half-trained adapter must never be
        # cached as finished. The checkpoint stays: the same command resumes from it.
        raise KeyboardInterrupt(f"training interrupted; run again to resume from {ckpt_dir}")
    seconds = time.perf_counter() - started
    tokens = module.tokens_seen
    if trainer.world_size > 1:  # every rank saw its own share of the batches
        seen = torch.tensor(float(tokens), device=trainer.strategy.root_device)  # NCCL: on GPU
        tokens = int(trainer.strategy.reduce(seen, reduce_op="sum"))
    losses = module.losses
    return {
        "train_seconds": round(seconds, 3),
        "train_tokens": tokens,
        "train_tokens_per_s": round(tokens / seconds, 2) if seconds else 0.0,
        "train_world_size": int(trainer.world_size),
        "train_strategy": type(trainer.strategy).__name__,
        "train_precision": str(trainer.precision),
        "train_steps": int(trainer.global_step),
        "train_examples": len(tokenized),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "first_loss": round(losses[0], 5) if losses else None,
        "final_loss": round(sum(losses[-5:]) / len(losses[-5:]), 5) if losses else None,
        "resumed": resume is not None,
    }


def _trainer(
    spec: TrainSpec, ckpt_dir: Path, loggers: list | None, callbacks: list | None
) -> pl.Trainer:
    d, f = spec.devices, spec.fit
    # one rolling checkpoint, rewritten every epoch (monitor=None: the latest one is kept)
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        save_top_k=1,
        every_n_epochs=1,
        enable_version_counter=False,
    )
    started_outside = external_world_size() > 1 or torchelastic_launched()
    return pl.Trainer(
        accelerator=d.accelerator,
        devices=d.devices,
        num_nodes=d.num_nodes,
        strategy=strategy_for(d.strategy, started_outside),
        plugins=cluster_plugins() or None,
        precision=resolve_precision(d.precision, d.accelerator),
        max_epochs=f.max_epochs,
        max_steps=f.max_steps,
        accumulate_grad_batches=f.accumulate_grad_batches,
        gradient_clip_val=f.gradient_clip_val or None,
        callbacks=[checkpoint, *own_callbacks(bool(loggers)), *(callbacks or [])],
        logger=loggers or False,
        log_every_n_steps=1,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        limit_val_batches=1.0 if f.val_fraction > 0 else 0,
    )


def resolve_precision(precision: str, accelerator: str) -> str:
    """`auto`: bf16-mixed on a GPU that has bf16 (Ampere+), 16-mixed on older GPUs, 32-true on
    the CPU; anything else is Lightning's own value, passed through."""
    if precision != "auto":
        return precision
    gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if not gpu or not torch.cuda.is_available():
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def readable_checkpoint(path: Path) -> bool:
    """True if `path` is a checkpoint torch can open.

    Lightning writes checkpoints in place, so a process killed mid-write leaves a truncated
    file; resuming from it would crash every re-run. Such a file is removed (with a warning)
    and training starts over. mmap keeps the check cheap for large checkpoints.
    """
    if not path.is_file():
        return False
    try:
        torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file means: do not resume from it
        log.warning("training: checkpoint %s is unreadable (%s); training starts over", path, e)
        path.unlink(missing_ok=True)
        return False
    return True
