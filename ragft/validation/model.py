"""Rules for what builds and trains the model: model (+ its tiny shape), lora, quant, trainer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ragft.approaches import TRAINING, Approach
from ragft.config import (
    DTYPES,
    LORA_NAMES,
    MODEL_SOURCES,
    QUANT_NAMES,
    RunConfig,
)
from ragft.hub import model_path_problems
from ragft.validation import checks
from ragft.validation.checks import Problems, check, one_of, package_problems, positive, uses_kind

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu")
# Lightning's precision values, plus ragft's own "auto" (training.resolve_precision).
PRECISIONS = (
    "auto",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "64-true",
    "transformer-engine",
    "transformer-engine-float16",
    "32",
    "16",
    "bf16",
    "64",
)


def model_rule(run: RunConfig, approach: Approach | None) -> Problems:
    m = run.model
    p = one_of("model.source", m.source, MODEL_SOURCES)
    p += one_of("model.dtype", m.dtype, DTYPES)
    p += one_of("model.inference_dtype", m.inference_dtype, DTYPES)
    p += positive("model.max_input_tokens", m.max_input_tokens)
    if m.source in ("package-gguf", "tiny-random"):
        if not m.package:
            why = "the module that ships it" if m.source == "package-gguf" else "its tokenizer"
            p.append(f"model.source={m.source} needs model.package ({why})")
        elif m.source == "package-gguf" or importlib.util.find_spec(m.package) is not None:
            p += _package_model_problems(m.package, m.gguf_file)  # tiny: else the fallback
    if m.source == "hf":
        if not m.path:
            p.append("model.source=hf needs model.path=<local directory or hub id>")
        else:
            p += model_path_problems(m.path, m.revision)
    if m.source == "tiny-random":
        p += tiny_model_rule(run)
    return p


def _package_model_problems(package: str, gguf_file: str | None) -> Problems:
    missing = package_problems("model.package", package)
    if missing or not gguf_file:
        return missing
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    if folders and not (Path(folders[0]) / gguf_file).is_file():
        return [
            f"model.gguf_file={gguf_file!r} is not in {folders[0]}; give the name of a .gguf "
            "file there (or null: its only one)"
        ]
    return []


def tiny_model_rule(run: RunConfig) -> Problems:
    t = run.model.tiny
    p: Problems = []
    for name in (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "max_position_embeddings",
    ):
        p += positive(f"model.tiny.{name}", getattr(t, name), "a positive integer")
    if p:
        return p
    if t.hidden_size % t.num_attention_heads:
        p.append(
            f"model.tiny.hidden_size={t.hidden_size} must be a multiple of "
            f"model.tiny.num_attention_heads={t.num_attention_heads}"
        )
    if t.num_attention_heads % t.num_key_value_heads:
        p.append(
            f"model.tiny.num_attention_heads={t.num_attention_heads} must be a multiple of "
            f"model.tiny.num_key_value_heads={t.num_key_value_heads}"
        )
    return p


def lora_rule(run: RunConfig, approach: Approach | None) -> Problems:
    lo = run.lora
    p = one_of("lora", lo.name, LORA_NAMES)
    if lo.name != "default" or not uses_kind(approach, TRAINING):
        return p  # no adapter is built: its keys mean nothing here
    p += positive("lora.r", lo.r, "a positive integer")
    p += positive("lora.alpha", lo.alpha)
    p += check(0.0 <= lo.dropout < 1.0, "lora.dropout", lo.dropout, "in [0, 1)")
    t = lo.target_modules
    names_ok = isinstance(t, list) and t and all(isinstance(x, str) and x.strip() for x in t)
    if not (isinstance(t, str) and t.strip()) and not names_ok:
        p.append(
            f"lora.target_modules={t!r} must be all-linear or a non-empty list of module "
            "names, e.g. [q_proj,v_proj]"
        )
    return p


def quant_rule(run: RunConfig, approach: Approach | None) -> Problems:
    q = run.quant
    p = one_of("quant", q.name, QUANT_NAMES)
    p += one_of("quant.compute_dtype", q.compute_dtype, DTYPES)
    if q.name in QUANT_NAMES and q.name != "none" and not checks.bitsandbytes_installed():
        p.append(f"quant={q.name} needs bitsandbytes (pip install 'bitsandbytes>=0.47')")
    if uses_kind(approach, TRAINING) and run.lora.name == "none" and q.name != "none":
        p.append(
            f"quant={q.name} with lora=none: full fine-tuning cannot update 4/8-bit "
            "weights; use lora=default (QLoRA) or quant=none"
        )
    return p


def trainer_rule(run: RunConfig, approach: Approach | None) -> Problems:
    if not uses_kind(approach, TRAINING):
        return []  # nothing trains: the trainer's keys mean nothing here
    t = run.trainer
    p = one_of("trainer.accelerator", t.accelerator, ACCELERATORS)
    p += one_of("trainer.precision", t.precision, PRECISIONS)
    p += _devices_problems(t.devices)
    p += check(t.num_nodes >= 1, "trainer.num_nodes", t.num_nodes, ">= 1")
    p += check(
        bool(t.strategy.strip()),
        "trainer.strategy",
        t.strategy,
        "a Lightning strategy name, e.g. auto or ddp",
    )
    if not (t.max_epochs > 0 or (t.max_epochs == -1 and t.max_steps > 0)):
        p.append(
            f"trainer.max_epochs={t.max_epochs} must be positive (or set trainer.max_steps"
            " with trainer.max_epochs=-1 for no epoch limit)"
        )
    p += check(
        t.max_steps == -1 or t.max_steps > 0,
        "trainer.max_steps",
        t.max_steps,
        "positive, or -1 for no step limit",
    )
    p += positive("trainer.learning_rate", t.learning_rate)
    p += check(t.weight_decay >= 0, "trainer.weight_decay", t.weight_decay, ">= 0")
    p += check(0.0 <= t.warmup_ratio < 1.0, "trainer.warmup_ratio", t.warmup_ratio, "in [0, 1)")
    p += positive("trainer.batch_size", t.batch_size)
    p += check(
        t.accumulate_grad_batches >= 1,
        "trainer.accumulate_grad_batches",
        t.accumulate_grad_batches,
        ">= 1",
    )
    p += check(
        t.gradient_clip_val >= 0,
        "trainer.gradient_clip_val",
        t.gradient_clip_val,
        ">= 0 (0: no clipping)",
    )
    p += positive("trainer.max_length", t.max_length, "a positive number of tokens")
    p += check(0.0 <= t.val_fraction < 1.0, "trainer.val_fraction", t.val_fraction, "in [0, 1)")
    return p


def _devices_problems(devices: object) -> Problems:
    """Lightning's devices: a count >= 1, -1 or "auto" (all), a list of ids, or "0,1"."""
    if isinstance(devices, bool):
        ok = False
    elif isinstance(devices, int):
        ok = devices >= 1 or devices == -1
    elif isinstance(devices, str):
        text = devices.strip()
        ids = [x.strip() for x in text.split(",") if x.strip()]
        ok = text in ("auto", "-1") or (bool(ids) and all(x.isdigit() for x in ids))
        ok = ok and text not in ("0",)
    elif isinstance(devices, list):
        ok = bool(devices) and all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in devices
        )
    else:
        ok = False
    return check(
        ok,
        "trainer.devices",
        devices,
        'a count >= 1, -1 or "auto" (every device), or a list of device ids',
    )
