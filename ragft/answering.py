"""Answers from this process's model: static batches (`ragft.generation`) or continuous
batching (`ragft.continuous`), in the inference dtype; what `generation.answer` calls for a
local cell (a served cell uses `ragft.served.generator`)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from ragft import continuous, generation
from ragft.generation import Generate, Generated
from ragft.records import GenerationStats

AUTO_LONG = 64  # batching=auto: continuous for answers of this many new tokens or more


def local(
    model, tokenizer, *, max_new_tokens: int, batch_size: int, max_input_tokens: int,
    progress: bool = True, dtype: torch.dtype | None = None, batching: str = "static",
) -> Generate:  # fmt: skip
    """`prompts -> (outputs, stats)` on this process's model with the first-line stop, by a
    copy of it cast to `dtype` when one is given (`modeling.inference_dtype`; the model itself
    is left as it is, for training or another dtype): static batches
    (`generation.generate`), transformers' continuous batching
    (`continuous.generate_continuous`), or
    `auto`: continuous for long answers (`max_new_tokens` of `AUTO_LONG` or more) over more
    prompts than one batch holds, where rows of a static batch wait for its longest answer
    (1.16x on the CPU at 128 new tokens); static for short answers, where continuous
    batching measured 0.74x (experiments/benchmarks)."""

    def run(prompts: Sequence[str]) -> tuple[list[Generated], GenerationStats]:
        long_run = max_new_tokens >= AUTO_LONG and len(prompts) > (
            batch_size or continuous.CPU_BATCH
        )
        fn = generation.generate
        if batching == "continuous" or (batching == "auto" and long_run):
            fn = continuous.generate_continuous
        return fn(
            in_dtype(model, dtype), tokenizer, prompts, max_new_tokens=max_new_tokens,
            batch_size=batch_size, max_input_tokens=max_input_tokens, progress=progress,
            first_line=True,
        )  # fmt: skip

    return run


def in_dtype(model, dtype: torch.dtype | None):
    """`model`, or a copy of it in `dtype`: its floating weights and buffers cast as
    `model.to(dtype)` casts them, without a full-precision copy first. The weights are cast
    once, not at each operation as autocast does (which re-reads and casts every weight at
    every decoding step, and measured slower than float32 on the CPU)."""
    if dtype is None:
        return model
    memo: dict[int, torch.Tensor] = {}  # deepcopy takes these for the originals (ties kept)
    for p in model.parameters():
        if p.is_floating_point():
            memo[id(p)] = torch.nn.Parameter(p.detach().to(dtype), requires_grad=False)
    for b in model.buffers():
        if b.is_floating_point():
            memo[id(b)] = b.detach().to(dtype)
    return copy.deepcopy(model, memo)
