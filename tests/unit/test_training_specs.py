"""ragft.training.specs and the builder spec_for: plain specs from the config, their JSON, and
adapter cache keys that stay byte-identical to the ones cached before the specs existed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ragft import training
from ragft.cache import hash_key
from ragft.config import LoraConfig, QuantConfig, RunConfig, TrainerConfig
from ragft.records import LoadedModel, ModelInfo, ModelSource, QuantSpec
from ragft.training import AdapterSpec, TrainSpec
from ragft.training_data import TrainPair

PAIRS = [TrainPair("a", "Q: who?", "Ada.<end>"), TrainPair("cpt/b", "", "Some text.")]
TINY_FP = {
    "tiny": {"tiny": {"hidden_size": 64}, "seed": 0, "tokenizer": "abc", "format": 1},
    "dtype": "float32",
}
HF_FP = {"path": "/m", "revision": None, "dtype": "bfloat16"}
# (fingerprint, run, hash_key of the key parts) - the keys computed by the code before the
# redesign (commit 468d58a: TrainSpec(fp, run.lora, run.quant, run.trainer, run.seed)).
OLD_KEYS = [
    (
        TINY_FP,
        RunConfig(lora=LoraConfig(), quant=QuantConfig(), trainer=TrainerConfig(), seed=0),
        "1f433c24b70a1b11bcfa0a2260c72076",
    ),
    (
        TINY_FP,
        RunConfig(
            lora=LoraConfig(name="none"),
            quant=QuantConfig(),
            trainer=TrainerConfig(name="gpu", accelerator="gpu", precision="auto", max_steps=3),
            seed=7,
        ),
        "76c97d0e394807e331e834305b99670f",
    ),
    (
        HF_FP,
        RunConfig(
            lora=LoraConfig(r=8, alpha=16, dropout=0.05, target_modules=["q_proj", "v_proj"]),
            quant=QuantConfig(name="nf4", double_quant=False),
            trainer=TrainerConfig(
                name="ddp", devices=[0, 1], strategy="ddp", gradient_checkpointing=True
            ),
            seed=1,
        ),
        "b33a277d37b577b67a18bee075ca4788",
    ),
]


def loaded(fingerprint: dict) -> LoadedModel:
    return LoadedModel(None, None, ModelInfo(fingerprint, False), 0.0, ModelSource("/m"))


@pytest.mark.parametrize(("fingerprint", "run", "key"), OLD_KEYS)
def test_adapter_cache_keys_are_the_ones_cached_before(fingerprint, run, key):
    spec = training.spec_for(run, loaded(fingerprint))
    assert hash_key(spec.key_parts(PAIRS)) == key
    back = TrainSpec.from_json(json.loads(json.dumps(spec.to_json())))  # a worker's copy
    assert back == spec and hash_key(back.key_parts(PAIRS)) == key


def test_key_parts_are_the_config_slices_as_dicts():
    run = OLD_KEYS[2][1]
    parts = training.spec_for(run, loaded(HF_FP)).key_parts(PAIRS)
    assert parts["lora"] == {"name": "default", "r": 8, "alpha": 16, "dropout": 0.05,
                             "target_modules": ("q_proj", "v_proj")}  # fmt: skip
    assert parts["quant"] == {"name": "nf4", "compute_dtype": "auto", "double_quant": False}
    assert "name" not in parts["trainer"] and parts["trainer"]["devices"] == [0, 1]
    # packing is in the key only when on (adapters trained before it existed stay valid)
    assert list(parts["trainer"]) == [k for k in vars(run.trainer) if k not in ("name", "packing")]
    assert (parts["seed"], parts["n_pairs"], parts["format"]) == (1, 2, 1)


def test_every_setting_that_shapes_the_adapter_changes_its_key():
    base = training.spec_for(OLD_KEYS[0][1], loaded(TINY_FP))
    key = hash_key(base.key_parts(PAIRS))

    variants = [
        replace(base, adapter=AdapterSpec(r=8)),
        replace(base, adapter=None),
        replace(base, quant=QuantSpec("nf4")),
        replace(base, fit=replace(base.fit, learning_rate=1e-4)),
        replace(base, fit=replace(base.fit, packing=True)),
        replace(base, devices=replace(base.devices, devices=2)),
        replace(base, seed=1),
        replace(base, fingerprint={"other": 1}),
    ]
    keys = {hash_key(v.key_parts(PAIRS)) for v in variants}
    assert len(keys) == len(variants) and key not in keys
    assert hash_key(base.key_parts(PAIRS[:1])) != key
    # not part of the key: where the model loads from, the preset's name
    same = [replace(base, model=None), replace(base, devices=replace(base.devices, preset="x"))]
    assert {hash_key(v.key_parts(PAIRS)) for v in same} == {key}


def test_builder_turns_none_choices_into_none():
    full = training.spec_for(OLD_KEYS[1][1], loaded(TINY_FP))
    assert full.adapter is None and full.quant is None and full.kind == "full fine-tune"
    assert full.devices.preset == "gpu" and full.fit.max_steps == 3
    assert full.model == ModelSource("/m")
    qlora = training.spec_for(OLD_KEYS[2][1], loaded(HF_FP))
    assert qlora.adapter == AdapterSpec(8, 16, 0.05, ("q_proj", "v_proj"))
    assert qlora.quant == QuantSpec("nf4", "auto", False) and qlora.kind == "QLoRA adapter"
    lora = training.spec_for(OLD_KEYS[0][1], loaded(TINY_FP))
    assert lora.adapter == AdapterSpec() and lora.kind == "LoRA adapter"


def test_training_modules_never_read_config():
    """Config stops at the builder: no module of the package imports ragft.config, and the
    builder only for its signature (so the worker ranks never import Hydra)."""
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(training.__file__).parent
    for f in folder.glob("*.py"):
        text = f.read_text()
        if f.name == "__init__.py":
            assert "if TYPE_CHECKING:" in text.split("from ragft.config")[0]
        else:
            assert "ragft.config" not in text and "ragft import config" not in text, f.name
    code = "import sys, ragft.training.worker; print('ragft.config' in sys.modules)"
    root = folder.parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
