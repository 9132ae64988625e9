"""Answers from this process's model: static batches (`ragft.generation`) or continuous
batching (`ragft.continuous`), in the inference dtype; what `generation.answer` calls for a
local cell (a served cell uses `ragft.served.generator`)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from ragft import continuous, generation
from ragft.generation import Generate, Generated
from ragft.records import GenerationStats

AUTO_CONTINUOUS = 128  # batching=auto: continuous from this many prompts on (long runs)


def local(
    model, tokenizer, *, max_new_tokens: int, batch_size: int, max_input_tokens: int,
    progress: bool = True, dtype: torch.dtype | None = None, batching: str = "static",
) -> Generate:  # fmt: skip
    """`prompts -> (outputs, stats)` on this process's model with the first-line stop, in
    `dtype` under autocast when one is given (`modeling.inference_dtype`): static batches
    (`generation.generate`), transformers' continuous batching
    (`continuous.generate_continuous`), or
    `auto`: continuous for runs of `AUTO_CONTINUOUS` prompts or more, where it was measured
    faster on the CPU (experiments/benchmarks), static for the shorter ones."""

    def run(prompts: Sequence[str]) -> tuple[list[Generated], GenerationStats]:
        many = len(prompts) >= AUTO_CONTINUOUS
        fn = generation.generate
        if batching == "continuous" or (batching == "auto" and many):
            fn = continuous.generate_continuous
        with _autocast(model, dtype):
            return fn(
                model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                max_input_tokens=max_input_tokens, progress=progress, first_line=True,
            )  # fmt: skip

    return run


def _autocast(model, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(next(model.parameters()).device.type, dtype=dtype)
