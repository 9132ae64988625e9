"""ragft.training.batches: tokenisation with masked prompts, padding, length-grouped batches."""

from __future__ import annotations

import pytest
import torch

from ragft.errors import DataError
from ragft.training.batches import (
    IGNORE,
    LengthGroupedBatches,
    SupervisedDataModule,
    collate,
    tokenize_pairs,
)
from ragft.training_data import TrainPair


class CharTokenizer:
    """One id per character: enough to check masking and truncation arithmetic."""

    bos_token_id = None
    eos_token_id = 0
    eos_token = "\x00"

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [ord(c) for c in text]}


def test_prompt_tokens_are_masked_and_completion_is_learned():
    pair = TrainPair(id="a", prompt="Q: x?", completion="yes\x00")
    (row,) = tokenize_pairs(CharTokenizer(), [pair], max_length=64)
    assert len(row["input_ids"]) == len(row["labels"]) == 9
    assert row["labels"][:5] == [IGNORE] * 5
    assert row["labels"][5:] == [ord("y"), ord("e"), ord("s"), 0]


def test_truncation_cuts_the_prompt_from_the_left_and_keeps_the_answer():
    pair = TrainPair(id="a", prompt="0123456789", completion="ab")
    (row,) = tokenize_pairs(CharTokenizer(), [pair], max_length=5)
    assert row["input_ids"] == [ord(c) for c in "789ab"]
    assert row["labels"] == [IGNORE] * 3 + [ord("a"), ord("b")]


def test_no_answer_tokens_is_a_clear_error():
    with pytest.raises(DataError, match="'empty'.*no answer tokens"):
        tokenize_pairs(CharTokenizer(), [TrainPair(id="empty", prompt="Q", completion="\x00")], 8)


def test_collate_pads_right_and_masks_padding():
    rows = [{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]}, {"input_ids": [9], "labels": [9]}]
    batch = collate(rows, pad_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 1, 1]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [9, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["input_ids"].dtype == torch.long


def test_length_grouped_batches_cover_everything_once_with_little_padding():
    lengths = [(i * 37) % 101 + 1 for i in range(200)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=3)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(200))
    assert len(first) == len(sampler) == 25
    padded = sum(8 * max(lengths[i] for i in b) for b in first)
    random_batches = [list(range(j, j + 8)) for j in range(0, 200, 8)]
    padded_random = sum(8 * max(lengths[i] for i in b) for b in random_batches)
    assert padded < 0.8 * padded_random
    second = list(sampler)
    assert second != first  # a new order every epoch
    assert list(LengthGroupedBatches(lengths, 8, seed=3)) == first  # deterministic by seed


def test_length_grouped_batches_shard_across_ranks():
    lengths = list(range(1, 41))
    shards = [list(LengthGroupedBatches(lengths, 4, 0, rank=r, world_size=2)) for r in (0, 1)]
    seen = [i for s in shards for b in s for i in b]
    assert len(seen) == len(set(seen)) == 40
    assert len(shards[0]) == len(shards[1]) == 5


def test_datamodule_holds_out_a_seeded_validation_share_and_resumes_its_epoch():
    rows = [
        {"input_ids": [i + 1] * (i % 5 + 1), "labels": [i + 1] * (i % 5 + 1)} for i in range(20)
    ]
    data = SupervisedDataModule(rows, pad_id=0, batch_size=4, seed=2, val_fraction=0.25)
    assert len(data.val) == 5 and len(data.train) == 15
    firsts = {r["input_ids"][0] for r in data.val + data.train}
    assert firsts == set(range(1, 21))  # a split, not copies
    again = SupervisedDataModule(rows, pad_id=0, batch_size=4, seed=2, val_fraction=0.25)
    assert again.val == data.val
    order = [b["input_ids"][:, 0].tolist() for b in data.train_dataloader()]
    data.load_state_dict({"next_epoch": 1})  # as a resumed fit restores it
    resumed = [b["input_ids"][:, 0].tolist() for b in data.train_dataloader()]
    fresh = SupervisedDataModule(rows, pad_id=0, batch_size=4, seed=2, val_fraction=0.25)
    loader = fresh.train_dataloader()
    list(loader)  # epoch 0
    assert resumed == [b["input_ids"][:, 0].tolist() for b in loader]  # epoch 1
    assert resumed != order
