"""Supervised pairs, tokenisation with masked prompts, batching, RAFT contexts."""

from __future__ import annotations

import pytest
import torch

from ragft.data.fictional_kb import generate
from ragft.errors import DataError
from ragft.training import IGNORE, LengthGroupedBatches, collate, tokenize_pairs
from ragft.training_data import TrainPair, cpt_pairs, qa_pairs, raft_contexts
from ragft.types import Chunk, Passage, QAExample


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


def test_qa_and_cpt_pairs():
    ds = generate(n_entities=2, n_train_phrasings=2, seed=0, eval_split="heldout")
    pairs = qa_pairs(ds.train, render=lambda m: f"<{m}>", complete=lambda m, a: a + "|")
    assert len(pairs) == len(ds.train)
    assert pairs[0].prompt.startswith("<") and ds.train[0].question in pairs[0].prompt
    assert pairs[0].completion == ds.train[0].answers[0] + "|"
    docs = cpt_pairs(ds.corpus, end="|")
    assert [p.prompt for p in docs] == ["", ""] and docs[0].completion.endswith("|")


def _passages(doc_ids: list[str]) -> list[Passage]:
    return [
        Passage(f"{d}#0", d, f"text of {d}", 1.0 / (r + 1), r + 1) for r, d in enumerate(doc_ids)
    ]


def test_raft_contexts_carry_gold_in_share_p_and_hard_distractors():
    n = 200
    examples = [
        QAExample(id=f"q{i}", question="?", answers=(f"ans{i}",), gold_doc_ids=(f"d{i % 10}",))
        for i in range(n)
    ]
    chunks = [Chunk(f"d{j}#0", f"d{j}", f"doc {j} says ans{j} and ans{j + 10}") for j in range(10)]
    hits = [_passages([f"d{(i + s) % 10}" for s in range(6)]) for i in range(n)]
    contexts, flags = raft_contexts(examples, hits, chunks, gold_share=0.7, n_distractors=3, seed=1)
    assert sum(flags) == 140  # exactly round(P * n)
    for ex, ctx, has in zip(examples, contexts, flags, strict=True):
        gold = [p for p in ctx if p.doc_id in ex.gold_doc_ids]
        assert len(gold) == (1 if has else 0)
        assert len(ctx) == 3 + has
    again, flags2 = raft_contexts(examples, hits, chunks, 0.7, 3, seed=1)
    assert flags2 == flags and again == contexts
    _, flags3 = raft_contexts(examples, hits, chunks, 0.7, 3, seed=2)
    assert flags3 != flags
