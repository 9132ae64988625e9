"""Batches: supervised pairs tokenised with masked prompts, length-grouped and dynamically
padded (or packed: one row, no padding), in a seeded order that a resumed fit continues
exactly."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from functools import partial

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from ragft.errors import DataError
from ragft.training_data import TrainPair

IGNORE = -100  # label id the loss skips (prompt and padding tokens)


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


def collate_packed(batch: list[dict]) -> dict[str, torch.Tensor]:
    """A batch's examples end to end in one row (1 x total tokens), no padding and no
    attention_mask (transformers' DataCollatorWithFlattening).

    `position_ids` restart at 0 for every example: from them (with no attention_mask and no
    cache) transformers' masking builds a block-diagonal causal mask, so no example attends to
    another. Each example's first label is IGNORE, so none is predicted from the one before:
    the labelled tokens, and so the loss, are those of the padded batch.
    """
    from transformers import DataCollatorWithFlattening

    return DataCollatorWithFlattening(return_tensors="pt", separator_id=IGNORE)(batch)


def is_packed(batch: dict[str, torch.Tensor]) -> bool:
    """True for a `collate_packed` batch (position ids, no attention mask)."""
    return "position_ids" in batch and "attention_mask" not in batch


def batch_examples(batch: dict[str, torch.Tensor]) -> int:
    """The examples a padded (one a row) or packed (one a position id 0) batch holds."""
    if is_packed(batch):
        return int((batch["position_ids"] == 0).sum())
    return int(batch["input_ids"].shape[0])


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """The real tokens of a padded or packed batch: prompts and answers, padding left out.

    Not `input_ids != pad_id`: the pad id may be a real token too (often the eos token).
    """
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())


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
    """Tokenised pairs -> length-grouped, dynamically padded batches (+ optional validation).

    With `packing` each batch (the same examples) is one packed row instead (`collate_packed`).
    """

    def __init__(
        self,
        tokenized: list[dict],
        pad_id: int,
        batch_size: int,
        seed: int,
        val_fraction: float = 0.0,
        packing: bool = False,
    ):
        super().__init__()
        self.pad_id, self.batch_size, self.seed = pad_id, batch_size, seed
        self.packing = packing
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
        collate_fn = collate_packed if self.packing else partial(collate, pad_id=self.pad_id)
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate_fn)

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
