"""Adapters: LoRA (PEFT) on the frozen base, or every weight trainable; loading a trained one
back; what it weighs on disk."""

from __future__ import annotations

from pathlib import Path

import torch

from ragft.errors import ConfigError
from ragft.training.specs import AdapterSpec


def linear_module_names(model) -> list[str]:
    """Leaf names of the model's linear layers (what lora.target_modules may name)."""
    names = set()
    for full, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, torch.nn.Linear) or kind in ("Linear4bit", "Linear8bitLt"):
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def attach_adapter(
    model, adapter: AdapterSpec | None, quantized: bool, gradient_checkpointing: bool
):
    """LoRA (+ k-bit preparation of `quantized` weights) on the frozen base, or everything
    trainable for `adapter=None` (full fine-tuning)."""
    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if adapter is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    targets = adapter.target_modules
    if not isinstance(targets, str):
        targets = [str(t) for t in targets]
        available = linear_module_names(model)
        unknown = [t for t in targets if t not in available]
        if unknown:
            raise ConfigError(
                [
                    f"lora.target_modules: {', '.join(unknown)} not in the model; its linear "
                    f"modules are: {', '.join(available)} (or use all-linear)"
                ]
            )
    config = PeftLoraConfig(
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def save_trained(model, tokenizer, full_weights: bool, out: Path) -> None:
    """The trainable result into `out`: the adapter, or the whole model and its tokenizer."""
    model.save_pretrained(out, safe_serialization=True)
    if full_weights:
        tokenizer.save_pretrained(out)


def load_trained(model, entry: Path, adapter: AdapterSpec | None):
    """The trained model from its cache entry: the adapter on `model`, or (full fine-tuning)
    the saved weights on `model`'s device and dtype."""
    if adapter is None:
        from transformers import AutoModelForCausalLM

        device = next(model.parameters()).device
        return AutoModelForCausalLM.from_pretrained(entry, dtype=model.dtype).to(device)
    from peft import PeftModel

    return PeftModel.from_pretrained(model, entry, is_trainable=False)


def weights_mb(entry: Path) -> float:
    """Size of the weight files in a cache entry, in MiB."""
    files = list(entry.glob("*.safetensors")) + list(entry.glob("*.bin"))
    return sum(f.stat().st_size for f in files) / 2**20
