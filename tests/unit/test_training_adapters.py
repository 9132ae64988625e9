"""ragft.training.adapters on a small in-memory Llama: LoRA or every weight trainable, the
target-module check, and a saved adapter (or full weights) loading back to the same outputs."""

from __future__ import annotations

import pytest
import torch

from ragft.errors import ConfigError
from ragft.training.adapters import (
    attach_adapter,
    linear_module_names,
    load_trained,
    save_trained,
    weights_mb,
)
from ragft.training.specs import AdapterSpec

from ..helpers import micro_llama


class Tok:
    def save_pretrained(self, out) -> None:
        (out / "tokenizer.json").write_text("{}")


IDS = torch.tensor([[1, 5, 9, 3]])


def test_lora_trains_only_the_adapter_on_the_named_modules():
    model = attach_adapter(
        micro_llama(), AdapterSpec(r=2, target_modules=("q_proj",)), False, False
    )
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "q_proj" in n for n in trainable)


def test_full_fine_tuning_trains_every_weight():
    model = micro_llama()
    for p in model.parameters():
        p.requires_grad_(False)
    assert attach_adapter(model, None, False, False) is model
    assert all(p.requires_grad for p in model.parameters())


def test_unknown_target_module_lists_the_models_linear_modules():
    model = micro_llama()
    assert {"q_proj", "v_proj", "lm_head"} <= set(linear_module_names(model))
    with pytest.raises(ConfigError, match="nope_proj not in the model.*q_proj"):
        attach_adapter(model, AdapterSpec(target_modules=("q_proj", "nope_proj")), False, False)


@pytest.mark.parametrize("adapter", [AdapterSpec(r=2), None], ids=["lora", "full"])
def test_saved_result_loads_back_with_the_same_outputs(adapter, tmp_path):
    model = attach_adapter(micro_llama(), adapter, False, False)
    with torch.no_grad():  # changed weights, so a load that ignored them would be caught
        for n, p in model.named_parameters():
            if p.requires_grad and ("lora_B" in n or adapter is None):
                p.add_(0.05)
        expected = model(IDS).logits
    save_trained(model, Tok(), adapter is None, tmp_path)
    assert (tmp_path / "tokenizer.json").is_file() == (adapter is None)
    again = load_trained(micro_llama(), tmp_path, adapter)
    with torch.no_grad():
        torch.testing.assert_close(again(IDS).logits, expected)
    assert weights_mb(tmp_path) > 0
