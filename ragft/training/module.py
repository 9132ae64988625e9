"""The loss on answer tokens and the LightningModule that trains a Hugging Face causal LM."""

from __future__ import annotations

import inspect
from typing import Any

import pytorch_lightning as pl
import torch

from ragft.training.batches import IGNORE, batch_examples, batch_tokens, is_packed
from ragft.training.monitors import LR_NAME


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (answer) tokens.

    Only the positions from the earliest labelled token on go through the LM head
    (`logits_to_keep`): prompt positions carry no loss, and with a 49k-token vocabulary the
    head and its float32 softmax are a large share of a small model's step (the measured gain
    is in experiments/benchmarks/README.md). A packed batch (`batches.collate_packed`) keeps
    exactly the positions that predict a labelled token. Models whose forward does not take
    `logits_to_keep` use their own loss.
    """
    labels = batch["labels"]
    if is_packed(batch):
        return _packed_loss(model, batch)
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


def _packed_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """`answer_loss` of one packed row. use_cache=False matters: with a cache (transformers
    makes one whenever the config's use_cache is on, in training too) the masking does not
    look for packed sequences and every token attends to the examples before it."""
    ids, positions, labels = batch["input_ids"], batch["position_ids"], batch["labels"]
    if not _takes_logits_to_keep(model):
        return model(input_ids=ids, position_ids=positions, labels=labels, use_cache=False).loss
    targets = labels[0, 1:]
    keep = (targets != IGNORE).nonzero().squeeze(1)  # the positions whose next token is labelled
    out = model(input_ids=ids, position_ids=positions, logits_to_keep=keep, use_cache=False)
    return torch.nn.functional.cross_entropy(out.logits[0].float(), targets[keep])


def packing_problem(model) -> str | None:
    """None if `model` keeps a packed row's examples apart, else what goes wrong.

    Two packed rows that differ only in their first example must give their second example
    the same logits: the same shapes, so the same kernels, and (without leaks) the same
    inputs to every sum (they come out bit for bit equal, float32 and bf16 alike). A model that
    lets tokens attend across examples moves them by a large share of the largest logit (70%
    on the tiny random Llama), far past the 1% allowed. Costs one forward pass of 2 x 12 tokens.
    """
    vocab = model.get_input_embeddings().num_embeddings
    device = next(model.parameters()).device
    second = [3, 5, 7, 2]
    rows = [[(1 + i) % vocab for i in range(8)] + second,
            [(11 + 3 * i) % vocab for i in range(8)] + second]  # fmt: skip
    ids = torch.tensor(rows, device=device)
    positions = torch.tensor([list(range(8)) + list(range(4))] * 2, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits
    finally:
        model.train(was_training)
    a, b = logits[0, 8:].float(), logits[1, 8:].float()
    if torch.allclose(a, b, rtol=1e-2, atol=1e-2 * float(b.abs().max())):
        return None
    attn = getattr(getattr(model, "config", None), "_attn_implementation", "unknown")
    return (
        f"trainer.packing=true but {type(model).__name__} (attention {attn}) lets a packed "
        "row's examples attend to each other (it does not take position_ids restarting at 0 "
        "as sequence boundaries); set trainer.packing=false"
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
        n = batch_examples(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, batch_size=n)
        self.losses.append(float(loss.detach()))
        self.tokens_seen += batch_tokens(batch)  # padded or packed: real tokens only
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = answer_loss(self.model, batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=batch_examples(batch))

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
