"""The training stage: LoRA / QLoRA / full fine-tuning through PyTorch Lightning.

    spec = training.spec_for(run, loaded)          # the builder: the one reader of config
    trained = training.train(loaded, pairs, spec, cache)

`train` returns the trained model (a PEFT model for LoRA) with its cost figures. A trained
adapter (or, for full fine-tuning, the weights) is cached by the hash of everything that
determines it, so a `hybrid` cell reuses the adapter its `finetune` twin trained, and a
re-run trains nothing. Lightning checkpoints hold only the trainable weights and live beside
the cache entry until the entry is complete, so an interrupted training resumes from its
last checkpoint.

Modules: `specs` (the plain arguments), `batches`, `module` (loss + LightningModule),
`adapters`, `fit` (the Trainer run), `launch` (where ranks come from), `worker` (a rank
ragft starts).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import pytorch_lightning as pl
import torch

from ragft.cache import Cache, hash_key
from ragft.errors import ConfigError, DataError
from ragft.modeling import quant_spec
from ragft.ranks import global_rank
from ragft.records import LoadedModel, TrainStats
from ragft.training import launch
from ragft.training.adapters import attach_adapter, load_trained, weights_mb
from ragft.training.batches import tokenize_pairs
from ragft.training.fit import fit_and_save, fit_model, save
from ragft.training.specs import AdapterSpec, DeviceSpec, FitSpec, Inert, Trained, TrainSpec
from ragft.training_data import TrainPair

if TYPE_CHECKING:  # the builder's signature only: nothing else here reads config
    from ragft.config import RunConfig

__all__ = ["AdapterSpec", "DeviceSpec", "FitSpec", "Inert", "Trained", "TrainSpec"]
__all__ += ["spec_for", "train"]

log = logging.getLogger(__name__)


def spec_for(run: RunConfig, loaded: LoadedModel) -> TrainSpec:
    """The training spec of a validated run on its loaded model (reads config attributes)."""
    lora, quant, t = run.lora, run.quant, run.trainer
    targets = lora.target_modules
    lora_numbers = AdapterSpec(
        r=lora.r,
        alpha=lora.alpha,
        dropout=lora.dropout,
        target_modules=targets if isinstance(targets, str) else tuple(targets),
    )
    return TrainSpec(
        fingerprint=loaded.info.fingerprint,
        adapter=None if lora.name == "none" else lora_numbers,
        quant=quant_spec(quant),
        devices=DeviceSpec(t.accelerator, t.devices, t.num_nodes, t.strategy, t.precision, t.name),
        fit=FitSpec(**{f.name: getattr(t, f.name) for f in fields(FitSpec)}),  # same names
        seed=run.seed,
        model=loaded.source,
        inert=Inert(lora_numbers, quant.compute_dtype, quant.double_quant),
    )


def train(
    loaded: LoadedModel,
    pairs: Sequence[TrainPair],
    spec: TrainSpec,
    cache: Cache,
    loggers: list | None = None,
    callbacks: list | None = None,
) -> Trained:
    """Fine-tune `loaded.model` on `pairs` (or load the cached result).

    Where the ranks come from is `launch.mode` (one process, ranks ragft starts, or ranks
    SLURM/torchrun started). In the last case a rank other than 0 returns a `Trained` without
    model and entry once training is done: only rank 0 goes on to evaluate.
    """
    if not pairs:
        raise DataError("there is nothing to train on: the training split is empty")
    d = spec.devices
    _check_cuda(d)
    parts = spec.key_parts(pairs)
    key = hash_key(parts)
    ckpt_dir = cache.root / "checkpoints" / key
    launch_mode = launch.mode(d.accelerator, d.devices, d.num_nodes, d.strategy)
    rank = global_rank() if launch_mode == "external" else 0
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    entry = cache.lookup("adapter", key)
    if entry is not None:  # every rank sees the same file system, so all skip training
        return _reuse(loaded.model, entry, spec, ckpt_dir, rank)
    tokenized = tokenize_pairs(loaded.tokenizer, pairs, spec.fit.max_length)  # a miss: needed
    if launch_mode == "external":
        return _train_in_started_ranks(loaded, tokenized, spec, cache, parts, ckpt_dir, loggers)
    model = loaded.model
    stats: dict = {}

    def build(out: Path) -> None:
        nonlocal model
        if launch_mode == "workers":
            launch.train_in_workers(model, tokenized, spec, cache.root, ckpt_dir, out, loggers)
            if callbacks:
                log.warning("training callbacks run only in single-process training; ignored")
            stats.update(json.loads((out / "train_stats.json").read_text()))
        else:
            model, fit_stats = fit_and_save(
                model, loaded.tokenizer, tokenized, spec, ckpt_dir, out, loggers, callbacks
            )
            stats.update(fit_stats)

    entry, hit = cache.get_or_build("adapter", parts, build)
    if hit:  # another process finished it while this one waited for the lock
        return _reuse(loaded.model, entry, spec, ckpt_dir, rank)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    if launch_mode == "workers":  # trained in other processes: load what they saved
        model = load_trained(model, entry, spec.adapter)
    model.eval()
    return Trained(model, _stats(stats, False, entry), entry)


def _check_cuda(d: DeviceSpec) -> None:
    if d.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            [
                f"trainer.accelerator={d.accelerator} (trainer={d.preset}) but torch sees no "
                "CUDA device; on a CPU use trainer=cpu, or trainer.accelerator=cpu for DDP over "
                "gloo"
            ]
        )


def _reuse(model, entry: Path, spec: TrainSpec, ckpt_dir: Path, rank: int) -> Trained:
    """The cache-hit path of every mode: load the finished adapter, report what it cost."""
    if rank > 0:
        return Trained(None, TrainStats(train_cache_hit=True), None)
    log.info("training: reusing the cached %s %s", spec.kind, entry)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # a checkpoint of an interrupted twin
    stats = json.loads((entry / "train_stats.json").read_text())
    stats["train_seconds_saved"] = stats.pop("train_seconds", 0.0)
    stats["train_seconds"] = 0.0
    model = load_trained(model, entry, spec.adapter).eval()
    return Trained(model, _stats(stats, True, entry), entry)


def _train_in_started_ranks(
    loaded: LoadedModel,
    tokenized: list[dict],
    spec: TrainSpec,
    cache: Cache,
    parts: dict,
    ckpt_dir: Path,
    loggers: list | None,
) -> Trained:
    """Every rank (SLURM task / torchrun process) fits; rank 0 caches the adapter.

    The cache lock is taken only to save: a rank waiting on a lock that rank 0 holds while
    rank 0 waits for it in an all-reduce would deadlock.
    """
    rank = global_rank()
    model = attach_adapter(
        loaded.model, spec.adapter, spec.quant is not None, spec.fit.gradient_checkpointing
    )
    stats = fit_model(
        model, loaded.tokenizer, tokenized, spec, ckpt_dir, loggers if rank == 0 else None
    )
    if rank > 0:
        return Trained(None, TrainStats.from_json(dict(stats, train_cache_hit=False)), None)
    entry, _ = cache.get_or_build(
        "adapter", parts, lambda out: save(model, loaded.tokenizer, spec, out, stats)
    )
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    model.eval()
    return Trained(model, _stats(stats, False, entry), entry)


def _stats(stats: dict, hit: bool, entry: Path) -> TrainStats:
    return TrainStats.from_json(
        dict(stats, train_cache_hit=hit, adapter_mb=round(weights_mb(entry), 3))
    )
