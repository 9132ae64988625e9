"""The training stage: LoRA / QLoRA / full fine-tuning through PyTorch Lightning.

`train(...)` takes the loaded model, the supervised pairs and the config slices, and returns
the trained model (a PEFT model for LoRA) plus cost figures. A trained adapter (or, for full
fine-tuning, the weights) is cached by the hash of everything that determines it, so a
`hybrid` cell reuses the adapter its `finetune` twin trained, and a re-run trains nothing.
Lightning checkpoints hold only the trainable weights and live beside the cache entry until
the entry is complete, so an interrupted training resumes from its last checkpoint.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from ragft import launch
from ragft.cache import Cache, hash_key, texts_sha256
from ragft.config import LoraConfig, ModelConfig, QuantConfig, TrainerConfig
from ragft.errors import ConfigError, DataError
from ragft.training_data import TrainPair

log = logging.getLogger(__name__)
IGNORE = -100  # label id the loss skips (prompt and padding tokens)
FORMAT = 1  # bump when training changes in a way that makes old cached adapters stale


# ---- tokenisation --------------------------------------------------------------------------


def tokenize_pairs(tokenizer, pairs: Sequence[TrainPair], max_length: int) -> list[dict]:
    """input_ids + labels (prompt tokens masked) per pair; prompts are cut from the left.

    Raises DataError naming the example when nothing of its answer would be trained on.
    """
    out = []
    for pair in pairs:
        prompt = (
            tokenizer(pair.prompt, add_special_tokens=False)["input_ids"] if pair.prompt else []
        )
        target = tokenizer(pair.completion, add_special_tokens=False)["input_ids"]
        if not pair.prompt and tokenizer.bos_token_id is not None:
            prompt = [tokenizer.bos_token_id]
        target = target[:max_length]
        prompt = prompt[max(0, len(prompt) + len(target) - max_length) :]
        if not target or all(t == tokenizer.eos_token_id for t in target):
            raise DataError(
                f"training example {pair.id!r} has no answer tokens after truncation to "
                f"trainer.max_length={max_length}; give it a non-empty answer"
            )
        out.append({"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target})
    return out


def collate(batch: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest example (dynamic padding)."""
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        labels[i, :n] = torch.tensor(b["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


class LengthGroupedBatches(Sampler[list[int]]):
    """Batches of similar length (little padding) in a seeded random order per epoch.

    Indices are shuffled, cut into mega-batches of `group` batches, sorted by length inside
    each, cut into batches, and the batches shuffled. With `rank`/`world_size` each process
    takes every world_size-th batch (the batch count is rounded down to a multiple).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        group: int = 16,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.lengths = list(lengths)
        self.batch_size, self.seed, self.group = batch_size, seed, group
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        idx = list(range(len(self.lengths)))
        rng.shuffle(idx)
        mega = self.batch_size * self.group
        batches = []
        for start in range(0, len(idx), mega):
            chunk = sorted(idx[start : start + mega], key=lambda i: -self.lengths[i])
            batches += [
                chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)
            ]
        rng.shuffle(batches)
        usable = (
            len(batches) - len(batches) % self.world_size if self.world_size > 1 else len(batches)
        )
        return batches[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        self.epoch += 1  # a fresh order next epoch even when Lightning does not call set_epoch
        return iter(batches)

    def __len__(self) -> int:
        n = math.ceil(len(self.lengths) / self.batch_size)
        return n // self.world_size if self.world_size > 1 else n


class SupervisedDataModule(pl.LightningDataModule):
    """Tokenised pairs -> length-grouped, dynamically padded batches (+ optional validation)."""

    def __init__(
        self,
        tokenized: list[dict],
        pad_id: int,
        batch_size: int,
        seed: int,
        val_fraction: float = 0.0,
    ):
        super().__init__()
        self.pad_id, self.batch_size, self.seed = pad_id, batch_size, seed
        self.start_epoch = 0  # a resumed fit's first epoch (from its checkpoint)
        order = list(range(len(tokenized)))
        random.Random(seed).shuffle(order)
        n_val = int(len(tokenized) * val_fraction)
        self.val = [tokenized[i] for i in order[:n_val]]
        self.train = [tokenized[i] for i in order[n_val:]] if n_val else tokenized

    def _loader(self, data: list[dict], shuffle: bool) -> DataLoader:
        lengths = [len(x["input_ids"]) for x in data]
        rank = self.trainer.global_rank if self.trainer else 0
        world = self.trainer.world_size if self.trainer else 1
        sampler = LengthGroupedBatches(
            lengths, self.batch_size, self.seed if shuffle else 0, rank=rank, world_size=world
        )
        if shuffle:
            sampler.set_epoch(self.start_epoch)
        return DataLoader(data, batch_sampler=sampler, collate_fn=lambda b: collate(b, self.pad_id))

    # Lightning never calls set_epoch on a batch sampler, and it builds (and prefetches from)
    # the train loader while setting up the optimizer, before it restores the loop state. So
    # the epoch to continue from travels in the checkpoint's datamodule state, which Lightning
    # restores first: a resumed fit sees the batch order an uninterrupted one would.
    def state_dict(self) -> dict[str, int]:
        loop = self.trainer.fit_loop if self.trainer is not None else None
        return {"next_epoch": int(loop.epoch_progress.current.processed) if loop else 0}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.start_epoch = int(state_dict.get("next_epoch", 0))

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val, shuffle=False) if self.val else []


# ---- the loss -------------------------------------------------------------------------------


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (answer) tokens.

    Only the positions from the earliest labelled token on go through the LM head
    (`logits_to_keep`): prompt positions carry no loss, and with a 49k-token vocabulary the
    head and its float32 softmax are a large share of a small model's step (SmolLM2-135M on
    the fictional-kb set: the same loss, 1.16-1.22x the tokens/s on a quiet 2-core CPU, ~4x while
    other processes compete for memory bandwidth). Models whose forward does not take
    `logits_to_keep` use their own loss.
    """
    labels = batch["labels"]
    if not _takes_logits_to_keep(model):
        return model(**batch).loss
    width = labels.shape[1]
    labelled = labels != IGNORE
    first = max(int(labelled.float().argmax(dim=1).min()), 1) if bool(labelled.any()) else 1
    keep = width - first + 1  # logits at positions first-1 .. width-1 predict first .. width
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    )
    logits = out.logits[:, :-1]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        labels[:, first:].reshape(-1),
        ignore_index=IGNORE,
    )


def _takes_logits_to_keep(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


# ---- the Lightning module ------------------------------------------------------------------


class CausalLMModule(pl.LightningModule):
    """A Hugging Face causal LM (with or without PEFT) under Lightning."""

    def __init__(self, model, learning_rate: float, weight_decay: float, warmup_ratio: float):
        super().__init__()
        self.model = model
        self.learning_rate, self.weight_decay, self.warmup_ratio = (
            learning_rate,
            weight_decay,
            warmup_ratio,
        )
        self.strict_loading = False  # checkpoints hold only the trainable weights
        self.losses: list[float] = []
        self.tokens_seen = 0

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = answer_loss(self.model, batch)
        n = int(batch["input_ids"].shape[0])
        self.log("train/loss", loss, prog_bar=True, on_step=True, batch_size=n)
        self.losses.append(float(loss.detach()))
        self.tokens_seen += int(batch["attention_mask"].sum())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = answer_loss(self.model, batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=int(batch["input_ids"].shape[0]))

    def configure_optimizers(self):
        from transformers import get_cosine_schedule_with_warmup

        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = get_cosine_schedule_with_warmup(opt, int(self.warmup_ratio * total), total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}


# ---- adapters ------------------------------------------------------------------------------


def linear_module_names(model) -> list[str]:
    """Leaf names of the model's linear layers (what lora.target_modules may name)."""
    names = set()
    for full, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, torch.nn.Linear) or kind in ("Linear4bit", "Linear8bitLt"):
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def attach_adapter(model, lora: LoraConfig, quant: QuantConfig, gradient_checkpointing: bool):
    """LoRA (+ k-bit preparation) on the frozen base, or everything trainable for lora=none."""
    if quant.name != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if lora.name == "none":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    targets = lora.target_modules
    if not isinstance(targets, str):
        targets = [str(t) for t in targets]
        available = linear_module_names(model)
        unknown = [t for t in targets if t not in available]
        if unknown:
            raise ConfigError(
                [
                    f"lora.target_modules: {', '.join(unknown)} not in the model; its linear "
                    f"modules are: {', '.join(available)} (or use all-linear)"
                ]
            )
    config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


# ---- the stage -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSpec:
    """Everything besides the data that determines a trained adapter."""

    model_fingerprint: dict
    lora: LoraConfig
    quant: QuantConfig
    trainer: TrainerConfig
    seed: int
    model: ModelConfig | None = None  # to reload the model in ranks ragft starts (not hashed)

    def key_parts(self, pairs: Sequence[TrainPair]) -> dict:
        trainer = {k: v for k, v in asdict(self.trainer).items() if k != "name"}
        texts = [t for p in pairs for t in (p.prompt, p.completion)]
        return {
            "model": self.model_fingerprint,
            "lora": asdict(self.lora),
            "quant": asdict(self.quant),
            "trainer": trainer,
            "seed": self.seed,
            "pairs": texts_sha256(texts),
            "n_pairs": len(pairs),
            "format": FORMAT,
        }


def train(
    model,
    tokenizer,
    pairs: Sequence[TrainPair],
    spec: TrainSpec,
    cache: Cache,
    loggers: list | None = None,
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any], Path]:
    """Fine-tune (or load the cached result); return (model ready to generate, cost, entry).

    Where the ranks come from is `launch.mode` (one process, ranks ragft starts, or ranks
    SLURM/torchrun started). In the last case a rank other than 0 returns (None, cost, None)
    once training is done: only rank 0 goes on to evaluate.
    """
    if not pairs:
        raise DataError("there is nothing to train on: the training split is empty")
    t = spec.trainer
    if t.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            [
                f"trainer.accelerator={t.accelerator} (trainer={t.name}) but torch sees no CUDA "
                "device; on a CPU use trainer=cpu, or trainer.accelerator=cpu for DDP over gloo"
            ]
        )
    tokenized = tokenize_pairs(tokenizer, pairs, spec.trainer.max_length)
    parts = spec.key_parts(pairs)
    key = hash_key(parts)
    ckpt_dir = cache.root / "checkpoints" / key
    how = launch.mode(t.accelerator, t.devices, t.num_nodes, t.strategy)
    if how == "external":
        return _train_in_started_ranks(model, tokenizer, tokenized, spec, cache, parts, loggers)
    stats: dict[str, Any] = {}

    def build(out: Path) -> None:
        nonlocal model
        if how == "workers":
            _train_in_workers(model, tokenizer, tokenized, spec, cache, ckpt_dir, out, loggers)
            if callbacks:
                log.warning("training callbacks run only in single-process training; ignored")
            stats.update(json.loads((out / "train_stats.json").read_text()))
        else:
            model, fit_stats = fit_and_save(
                model, tokenizer, tokenized, spec, ckpt_dir, out, loggers, callbacks
            )
            stats.update(fit_stats)

    pl.seed_everything(spec.seed, workers=True, verbose=False)
    entry, hit = cache.get_or_build("adapter", parts, build)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    if how == "workers" and not hit:  # trained in other processes: load what they saved
        model = _load_trained(model, entry, spec)
    if hit:
        log.info("training: reusing the cached %s %s", _kind(spec), entry)
        stats = json.loads((entry / "train_stats.json").read_text())
        model = _load_trained(model, entry, spec)
    model.eval()
    cost = dict(stats, train_cache_hit=hit, adapter_mb=round(_weights_mb(entry), 3))
    if hit:
        cost["train_seconds_saved"] = cost.pop("train_seconds", 0.0)
        cost["train_seconds"] = 0.0
    return model, cost, entry


def fit_and_save(
    model,
    tokenizer,
    tokenized: list[dict],
    spec: TrainSpec,
    ckpt_dir: Path,
    out: Path,
    loggers: list | None = None,
    callbacks: list | None = None,
) -> tuple[Any, dict]:
    """Attach the adapter, fit, and (global rank 0 only) save weights + stats into `out`."""
    model = attach_adapter(model, spec.lora, spec.quant, spec.trainer.gradient_checkpointing)
    stats = _fit(model, tokenizer, tokenized, spec, ckpt_dir, loggers, callbacks)
    if launch.global_rank() == 0:
        _save(model, tokenizer, spec, out, stats)
    return model, stats


def _save(model, tokenizer, spec: TrainSpec, out: Path, stats: dict) -> None:
    model.save_pretrained(out, safe_serialization=True)
    if spec.lora.name == "none":
        tokenizer.save_pretrained(out)
    (out / "train_stats.json").write_text(json.dumps(stats, indent=1))


def _train_in_workers(
    model, tokenizer, tokenized, spec: TrainSpec, cache: Cache, ckpt_dir: Path, out: Path, loggers
) -> None:
    """DDP on this machine in fresh processes (never Hydra's): rank 0 writes into `out`."""
    import torch

    t = spec.trainer
    n = launch.requested_world_size(t.accelerator, t.devices, t.num_nodes)
    csv = None
    for lg in loggers or []:
        if isinstance(lg, pl.loggers.CSVLogger):
            csv = {"save_dir": lg.save_dir, "name": lg.name, "version": lg.version}
    job = launch.worker_job(spec, tokenized, ckpt_dir, out, cache.root, csv)
    # the cell's own copy leaves the GPU while the ranks train (quantised weights cannot move)
    on_gpu = next(model.parameters()).is_cuda and spec.quant.name == "none"
    if on_gpu:
        model.to("cpu")
        torch.cuda.empty_cache()
    try:
        launch.run_workers(n, job, launch.spec_dir_for(cache.root))
    finally:
        if on_gpu:
            model.to(f"cuda:{torch.cuda.current_device()}")
    if csv:  # the loss curve the ranks wrote, replayed into the cell's other loggers (W&B)
        _replay_metrics(Path(csv["save_dir"]) / csv["name"] / "metrics.csv", loggers)


def _replay_metrics(csv_file: Path, loggers: list) -> None:
    import csv as csv_module

    others = [lg for lg in loggers if not isinstance(lg, pl.loggers.CSVLogger)]
    if not others or not csv_file.is_file():
        return
    with csv_file.open() as fh:
        for row in csv_module.DictReader(fh):
            step = int(float(row.pop("step", 0) or 0))
            metrics = {k: float(v) for k, v in row.items() if v not in ("", None)}
            for lg in others:
                lg.log_metrics(metrics, step=step)


def _train_in_started_ranks(
    model, tokenizer, tokenized, spec: TrainSpec, cache: Cache, parts: dict, loggers
) -> tuple[Any, dict[str, Any], Path | None]:
    """Every rank (SLURM task / torchrun process) fits; rank 0 caches the adapter.

    The cache lock is taken only to save: a rank waiting on a lock that rank 0 holds while
    rank 0 waits for it in an all-reduce would deadlock.
    """
    key = hash_key(parts)
    ckpt_dir = cache.root / "checkpoints" / key
    rank = launch.global_rank()
    entry = cache.lookup("adapter", key)
    if entry is not None:  # every rank sees the same file system, so all skip training
        if rank > 0:
            return None, {"train_cache_hit": True}, None
        stats = json.loads((entry / "train_stats.json").read_text())
        model = _load_trained(model, entry, spec).eval()
        cost = dict(stats, train_cache_hit=True, adapter_mb=round(_weights_mb(entry), 3))
        cost["train_seconds_saved"] = cost.pop("train_seconds", 0.0)
        cost["train_seconds"] = 0.0
        return model, cost, entry
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    model = attach_adapter(model, spec.lora, spec.quant, spec.trainer.gradient_checkpointing)
    stats = _fit(model, tokenizer, tokenized, spec, ckpt_dir, loggers if rank == 0 else None)
    if rank > 0:
        return None, dict(stats, train_cache_hit=False), None
    entry, _ = cache.get_or_build(
        "adapter", parts, lambda out: _save(model, tokenizer, spec, out, stats)
    )
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    model.eval()
    return model, dict(stats, train_cache_hit=False, adapter_mb=round(_weights_mb(entry), 3)), entry


def _fit(
    model, tokenizer, tokenized, spec: TrainSpec, ckpt_dir: Path, loggers, callbacks=None
) -> dict:
    t = spec.trainer
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "training %s: %d examples, %s of %s parameters trainable",
        _kind(spec),
        len(tokenized),
        f"{trainable:,}",
        f"{total:,}",
    )
    data = SupervisedDataModule(
        tokenized, tokenizer.pad_token_id, t.batch_size, spec.seed, t.val_fraction
    )
    module = CausalLMModule(model, t.learning_rate, t.weight_decay, t.warmup_ratio)
    # one rolling checkpoint, rewritten every epoch (monitor=None: the latest one is kept)
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        save_top_k=1,
        every_n_epochs=1,
        enable_version_counter=False,
    )
    world = launch.external_world_size()
    trainer = pl.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=launch.strategy_for(t.strategy, world > 1 or launch.torchelastic_launched()),
        plugins=launch.cluster_plugins() or None,
        precision=resolve_precision(t.precision, t.accelerator),
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=t.gradient_clip_val or None,
        callbacks=[checkpoint, pl.callbacks.TQDMProgressBar(refresh_rate=1), *(callbacks or [])],
        logger=loggers or False,
        log_every_n_steps=1,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        limit_val_batches=1.0 if t.val_fraction > 0 else 0,
    )
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
        "first_loss": round(module.losses[0], 5) if module.losses else None,
        "final_loss": round(sum(module.losses[-5:]) / len(module.losses[-5:]), 5)
        if module.losses
        else None,
        "resumed": resume is not None,
    }


def resolve_precision(precision: str, accelerator: str) -> str:
    """`auto`: bf16-mixed on a GPU that has bf16 (Ampere+), 16-mixed on older GPUs, 32-true on
    the CPU; anything else is Lightning's own value, passed through."""
    if precision != "auto":
        return precision
    import torch

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


def _load_trained(model, entry: Path, spec: TrainSpec):
    if spec.lora.name == "none":
        from transformers import AutoModelForCausalLM

        device = next(model.parameters()).device
        return AutoModelForCausalLM.from_pretrained(entry, dtype=model.dtype).to(device)
    from peft import PeftModel

    return PeftModel.from_pretrained(model, entry, is_trainable=False)


def _weights_mb(entry: Path) -> float:
    files = list(entry.glob("*.safetensors")) + list(entry.glob("*.bin"))
    return sum(f.stat().st_size for f in files) / 2**20


def _kind(spec: TrainSpec) -> str:
    if spec.lora.name == "none":
        return "full fine-tune"
    return "QLoRA adapter" if spec.quant.name != "none" else "LoRA adapter"
