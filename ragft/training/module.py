"""The loss on answer tokens and the LightningModule that trains a Hugging Face causal LM."""

from __future__ import annotations

import inspect
from typing import Any

import pytorch_lightning as pl
import torch

from ragft.training.batches import IGNORE
from ragft.training.monitors import LR_NAME


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (answer) tokens.

    Only the positions from the earliest labelled token on go through the LM head
    (`logits_to_keep`): prompt positions carry no loss, and with a 49k-token vocabulary the
    head and its float32 softmax are a large share of a small model's step (the measured gain
    is in experiments/benchmarks/README.md). Models whose forward does not take
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
        self.flops_per_batch: int | None = None  # unknown: ThroughputMonitor reports no MFU

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
        # the name is the key LearningRateMonitor logs the rate under
        scheduler = {"scheduler": sched, "interval": "step", "name": LR_NAME}
        return {"optimizer": opt, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
