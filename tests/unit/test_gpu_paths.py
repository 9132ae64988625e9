"""The GPU-only choices, as pure functions checked on the CPU: where each rank's model copy
goes, which precision `auto` means, and how large a generation batch fills a GPU."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ragft import generation, modeling, ranks


def test_each_rank_loads_its_copy_on_its_own_gpu():
    assert modeling.placement(cuda=True, quantized=True, gpu=3) == ("cuda:3", {"": 3})
    assert modeling.placement(cuda=True, quantized=False, gpu=1) == ("cuda:1", None)
    assert modeling.placement(cuda=False, quantized=True) == ("cpu", {"": "cpu"})
    assert ranks.cuda_index([2, 5], 1) == 5
    assert ranks.cuda_index("4,6", 0) == 4
    assert ranks.cuda_index(4, 3) == 3


def test_auto_precision_is_full_on_the_cpu():
    from ragft.training.fit import resolve_precision

    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("bf16-mixed", "gpu") == "bf16-mixed"


LLAMA_1B = SimpleNamespace(  # Llama-3.2-1B's shape
    num_hidden_layers=16,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=64,
    hidden_size=2048,
    intermediate_size=8192,
    vocab_size=128256,
)


def test_generation_batch_fills_the_free_memory():
    gib = 2**30
    small = generation.fill_batch_size(LLAMA_1B, tokens=512, free_bytes=4 * gib, element_bytes=2)
    large = generation.fill_batch_size(LLAMA_1B, tokens=512, free_bytes=60 * gib, element_bytes=2)
    assert 1 < small < large <= 512
    # one sequence: 2*16*8*64*512*2 B of KV cache + prefill + logits; 80% of memory is used
    per_seq = 2 * 16 * 8 * 64 * 512 * 2 + 512 * (4 * 2048 + 2 * 8192) * 2 + 2 * 128256 * 4
    assert small == int(0.8 * 4 * gib) // per_seq
    assert generation.fill_batch_size(LLAMA_1B, 10**6, gib, 2) == 1  # never zero


def test_batch_size_zero_means_16_on_the_cpu():
    import torch

    model = torch.nn.Linear(2, 2)
    assert generation.auto_batch_size(model, None, ["a question"], 8, 128) == 16


@pytest.mark.parametrize(
    ("accelerator", "cuda", "bf16", "expected"),
    [
        ("gpu", True, True, "bf16-mixed"),  # Ampere and newer
        ("cuda", True, False, "16-mixed"),  # older GPUs: fp16 with loss scaling
        ("auto", True, True, "bf16-mixed"),
        ("auto", False, False, "32-true"),  # auto on a machine without CUDA
        ("gpu", False, False, "32-true"),
        ("cpu", True, True, "32-true"),  # the CPU even where a GPU exists
    ],
)
def test_auto_precision_on_each_kind_of_device(monkeypatch, accelerator, cuda, bf16, expected):
    import torch

    from ragft.training.fit import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_precision("auto", accelerator) == expected
