"""The model stage: a `LoadedModel` (model, tokenizer, info) from `cfg.model` and `cfg.quant`.

Three sources (package-gguf, hf, tiny-random: `ragft.model_sources`), one loading path.
Every source is first resolved to a `ModelSource` (something `from_pretrained` can read: a
cached local folder or a hub id), which `load_source` loads, so quantisation and dtype are
applied the same way for all of them. `load_tokenizer` resolves the same way and loads the
tokenizer alone (a served model's prompts are built with it, no weights loaded).

`load` is the builder (the one function here that reads config objects); `load_source`
takes plain arguments, so training ranks in other processes reload the model without config.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import torch

from ragft import runtime
from ragft.cache import Cache
from ragft.errors import ModelError
from ragft.hub import hub_offline
from ragft.model_sources import RESOLVERS
from ragft.ranks import local_rank
from ragft.records import LoadedModel, ModelInfo, ModelSource, QuantSpec

if TYPE_CHECKING:  # the builder's signature only: nothing below `load` reads config
    from ragft.config import ModelConfig, QuantConfig

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load(
    cfg: ModelConfig, quant: QuantConfig, cache: Cache, seed: int = 0, gpu: int | None = None
) -> LoadedModel:
    """The model of `cfg` (quantised as `quant` says) in eval mode on the best device.

    On CUDA it goes to GPU `gpu` (default: this process's local rank, so each DDP rank
    loads its own copy on its own GPU).
    """
    t0 = time.perf_counter()
    path, info = RESOLVERS[cfg.source](cfg, cache, seed)
    revision = cfg.revision if cfg.source == "hf" else None
    source = ModelSource(path, cfg.dtype, cfg.trust_remote_code, revision)
    try:
        model, tokenizer = load_source(source, quant_spec(quant), gpu)
    except OSError as e:
        raise ModelError(_not_found_message(cfg, e)) from e
    info = ModelInfo(
        fingerprint=info["fingerprint"],
        model_cache_hit=info["model_cache_hit"],
        device=str(next(model.parameters()).device),
        parameters=sum(p.numel() for p in model.parameters()),
        gguf_file=info.get("gguf_file"),
    )
    return LoadedModel(model, tokenizer, info, round(time.perf_counter() - t0, 3), source)


def load_tokenizer(cfg: ModelConfig, cache: Cache, seed: int = 0):
    """The tokenizer of `cfg` alone, prepared for generation (no weights are loaded)."""
    from transformers import AutoTokenizer

    path, _ = RESOLVERS[cfg.source](cfg, cache, seed)
    hub: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.source == "hf" and cfg.revision:
        hub["revision"] = cfg.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **hub)
    except OSError as e:
        raise ModelError(_not_found_message(cfg, e)) from e
    prepare_tokenizer(tokenizer)
    return tokenizer


def inference_dtype(name: str, model) -> torch.dtype | None:
    """The dtype answers are computed in (`model.inference_dtype`), or None to answer with the
    model as loaded: auto = bfloat16 on a GPU that has it and on a CPU with native bf16 dot
    products (AVX512-BF16 or AMX), where it halves the weights read per decoding step and
    doubles the matrix throughput (2x the answers/s, experiments/benchmarks); float32
    elsewhere. Quantised weights compute in their own compute dtype; a model already in the
    dtype needs nothing."""
    device = next(model.parameters()).device
    if getattr(model, "is_quantized", False) or getattr(model, "is_loaded_in_4bit", False):
        return None
    dtype = DTYPES[runtime.resolved_inference_dtype(name, device.type)]
    return None if dtype == next(model.parameters()).dtype else dtype


def quant_spec(quant: QuantConfig) -> QuantSpec | None:
    """`cfg.quant` as a plain spec; None for quant=none."""
    if quant.name == "none":
        return None
    return QuantSpec(quant.name, quant.compute_dtype, quant.double_quant)


def load_source(source: ModelSource, quant: QuantSpec | None, gpu: int | None = None):
    """(model in eval mode, tokenizer) from a resolved source; raises OSError if not found."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kind = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = local_rank() if gpu is None else gpu
    device, device_map = placement(kind == "cuda", quant is not None, gpu)
    hub: dict[str, Any] = {"trust_remote_code": source.trust_remote_code}
    if source.revision:
        hub["revision"] = source.revision
    kwargs = dict(hub, dtype=_torch_dtype(source.dtype, kind))
    qconfig = quantization_config(quant, kind)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
        kwargs["device_map"] = device_map
    tokenizer = AutoTokenizer.from_pretrained(source.path, **hub)
    model = AutoModelForCausalLM.from_pretrained(source.path, **kwargs)
    if qconfig is None:
        model.to(device)
    model.eval()
    prepare_tokenizer(tokenizer)
    return model, tokenizer


def placement(cuda: bool, quantized: bool, gpu: int = 0) -> tuple[str, dict | None]:
    """(device for `.to()`, `device_map` for from_pretrained) of one process's model copy.

    bitsandbytes weights are placed while loading (`device_map={"": gpu}`, one whole copy
    per DDP rank on the rank's own GPU); other models load on the CPU and are moved.
    """
    if not cuda:
        return "cpu", ({"": "cpu"} if quantized else None)
    return f"cuda:{gpu}", ({"": gpu} if quantized else None)


def prepare_tokenizer(tokenizer) -> None:
    """Left padding (decoder-only batched generation) and a pad token."""
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"  # keep the question, drop the oldest context
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def quantization_config(quant: QuantSpec | None, device: str):
    """bitsandbytes settings for int8 | nf4, or None."""
    if quant is None:
        return None
    from transformers import BitsAndBytesConfig

    if quant.kind == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = quant.compute_dtype
    if compute == "auto":
        compute = "bfloat16" if device == "cuda" else "float32"
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=DTYPES[compute],
        bnb_4bit_use_double_quant=quant.double_quant,
    )


def _torch_dtype(name: str, device: str):
    if name == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return DTYPES[name]


def _not_found_message(cfg: ModelConfig, err: Exception) -> str:
    if cfg.source != "hf":
        return f"model={cfg.name}: could not load ({err})"
    hint = (
        "it is not a local folder and the hub is offline (HF_HUB_OFFLINE=1)"
        if hub_offline()
        else "it is neither a local model folder nor a hub id that could be fetched"
    )
    return f"model.path={cfg.path!r}: {hint}. Give a folder with config.json, or a hub id."
