"""Greedy answer generation by continuous batching: transformers' own paged-cache scheduler.

The counterpart of `generation.generate` (static, length-sorted, left-padded batches):
every prompt is a request to transformers' `ContinuousBatchingManager`, which decodes up to
`batch_size` requests in one forward pass, with their keys and values in a paged KV cache,
and gives a finished request's place to the next waiting prompt at once (its prefill shares
the forward with the others' decode steps). Nothing is padded and no row waits for the
longest of its batch. `generation.batching=continuous` selects it.

The manager keeps `sdpa` as it is (its attention mask keeps each request to its own keys),
makes `eager` its `paged|eager`, and on a GPU with flash attention installed switches to it;
it restores the model's own implementation when it stops, so the model serves the static
path afterwards as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch

from ragft.generation import (
    FirstLineStop,
    Generated,
    _count_until_stop,
    _stop_ids,
    cost_figures,
)
from ragft.progress import bar as progress_bar
from ragft.records import GenerationStats

CPU_BATCH = 16  # requests decoded together on the CPU (batch_size=0 there)
PAGE_SIZE = 64  # tokens per page of the paged KV cache (a shared prompt prefix is shared per page)
CPU_BATCH_TOKENS = 512  # tokens one forward pass holds on the CPU (prefill chunks and decode)
POLL_SECONDS = 1.0  # how long one wait for a result lasts before the manager's health is checked


def generate_continuous(
    model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int, max_input_tokens: int,
    progress: bool = True, first_line: bool = False, batch_size: int = 0,
) -> tuple[list[Generated], GenerationStats]:  # fmt: skip
    """Greedy-decode every prompt by continuous batching; outputs in prompt order, cost figures
    as `generation.generate` gives them.

    Prompts are tokenised as the static path does (no special tokens added, cut to
    `max_input_tokens`) and decode to the same stop tokens (`_stop_ids`). `batch_size` is the
    most requests decoded together; 0 lets transformers size it and the KV cache from the
    GPU's free memory (16 on the CPU, where the cache is sized for 16 of the longest
    requests). `first_line=True` streams each request's tokens and cancels it once its first
    non-empty line has ended (what `FirstLineStop` does in the static path: the manager takes
    no stopping criterion): the newline is kept, the tokens generated after it before the
    cancel reached the scheduler are dropped, and `new_tokens` counts up to the newline.
    A prompt of no tokens is an error (the static path would answer it from padding alone).
    """
    t0 = time.perf_counter()
    ids = tokenizer(
        list(prompts), add_special_tokens=False, truncation=True, max_length=max_input_tokens
    )["input_ids"] if prompts else []  # fmt: skip
    empty = [i for i, x in enumerate(ids) if not x]
    if empty:  # the manager would answer them with another request's tokens
        raise ValueError(f"prompts {empty[:5]} have no tokens: continuous batching needs one")
    eos = _stop_ids(tokenizer, model)
    tokens, per_pass = _run(
        model, tokenizer, ids, eos, max_new_tokens, batch_size, progress, first_line
    )
    done = []
    for prompt_ids, new in zip(ids, tokens, strict=True):
        n = _count_until_stop(new, eos, tokenizer.pad_token_id)
        text = tokenizer.decode(new[:n], skip_special_tokens=True)
        done.append(Generated(text=text, new_tokens=n, prompt_tokens=len(prompt_ids)))
    return done, cost_figures(done, time.perf_counter() - t0, per_pass)


def continuous_config(device: torch.device, batch_size: int, longest: int, max_new_tokens: int):
    """transformers' `ContinuousBatchingConfig` for requests of at most `longest` prompt tokens.

    On a GPU with `batch_size=0` transformers sizes everything from the free memory. Otherwise
    the cache holds `batch_size` (16 on the CPU) requests of the longest length, with the
    scheduler's 15% safety margin on top, and one forward holds at most that many requests:
    on the CPU (no flash attention) a forward's attention mask spans all its requests'
    keys, so more requests in one forward cost quadratically, and `CPU_BATCH_TOKENS` bounds
    a prefill chunk the same way.
    """
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    if device.type != "cpu" and batch_size == 0:
        return ContinuousBatchingConfig(page_size=PAGE_SIZE, seed=0)
    requests = batch_size or CPU_BATCH
    pages = math.ceil((longest + max_new_tokens) / PAGE_SIZE) + 1
    return ContinuousBatchingConfig(
        page_size=PAGE_SIZE,
        num_blocks=math.ceil(requests * pages / 0.85) + 1,
        max_batch_tokens=max(CPU_BATCH_TOKENS, requests) if device.type == "cpu" else None,
        max_requests_per_batch=requests,
        seed=0,
    )


def _run(
    model, tokenizer, ids: list[list[int]], eos: list[int], max_new_tokens: int,
    batch_size: int, progress: bool, first_line: bool,
) -> tuple[list[list[int]], int]:  # fmt: skip
    """Each request's generated tokens (an end token included) in request order, and the most
    requests one forward pass held (as transformers resolved it)."""
    from transformers import GenerationConfig
    from transformers.generation.continuous_batching.utils import WorkloadHints

    if not ids:
        return [], batch_size
    longest = max(len(x) for x in ids)
    gen = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                           eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    hints = WorkloadHints(max_prompt_length=longest, max_generated_length=max_new_tokens,
                          num_requests=len(ids))  # fmt: skip
    cb = continuous_config(model.device, batch_size, longest, max_new_tokens)
    attn = model.config._attn_implementation
    bar = progress_bar(len(ids), "generate", "q", disable=not progress)
    manager, finished = None, False
    try:
        with torch.inference_mode():  # the manager's thread decodes in the caller's mode
            manager = model.init_continuous_batching(
                generation_config=gen, continuous_batching_config=cb, workload_hints=hints
            )
            manager.warmup()  # CUDA graphs, where they are used
            manager.start()
            for i, prompt_ids in enumerate(ids):
                manager.add_request(prompt_ids, request_id=str(i), max_new_tokens=max_new_tokens,
                                    streaming=first_line, eos_token_id=eos)  # fmt: skip
            lines = _FirstLines(tokenizer) if first_line else None
            results = _collect(manager, len(ids), lines, bar)
            finished = True
    finally:
        bar.close()
        if manager is not None:
            manager.stop(block=True, hard_stop=not finished)  # an error: drop what is queued
            manager.destroy()
        if model.config._attn_implementation != attn:  # also where the manager never started
            model.set_attn_implementation(attn)
    per_pass = manager.continuous_batching_config.max_requests_per_batch
    return [results[i] for i in range(len(ids))], per_pass


def _collect(manager, n: int, lines: _FirstLines | None, bar) -> dict[int, list[int]]:
    """Read the manager's results until all `n` requests are answered; with `lines`, cancel a
    request once its first line has ended and keep its tokens up to there."""
    results: dict[int, list[int]] = {}
    while len(results) < n:
        out = manager.get_result(timeout=POLL_SECONDS)
        if out is None:
            if not manager.is_running():
                raise RuntimeError(f"continuous batching stopped with {n - len(results)} of {n} "
                                   "requests unanswered")  # fmt: skip
            continue
        i = int(out.request_id)
        if i in results:  # a cancelled request's tokens streamed before the cancel took effect
            continue
        if out.error is not None:
            raise RuntimeError(f"continuous batching failed request {i}: {out.error}")
        end = lines.end(i, out.generated_tokens) if lines is not None else None
        if end is not None:
            if not out.is_finished():
                manager.cancel_request(out.request_id)
            results[i] = out.generated_tokens[:end]
        elif out.is_finished():
            results[i] = out.generated_tokens
        else:
            continue
        bar.update(1)
    return results


class _FirstLines:
    """Where each request's first non-empty line ends, from its streamed tokens: the same rule
    as `generation.FirstLineStop` (a newline after some text), read only over new tokens."""

    def __init__(self, tokenizer):
        self.rule = FirstLineStop(tokenizer, 0)
        self.seen: dict[int, int] = {}  # request -> tokens read so far
        self.has_text: dict[int, bool] = {}

    def end(self, request: int, tokens: list[int]) -> int | None:
        """The count of tokens up to and including the one that ends the first line, or None
        while the line goes on."""
        has_text = self.has_text.get(request, False)
        for n in range(self.seen.get(request, 0), len(tokens)):
            ended, has_text = self.rule.ends(tokens[n], has_text)
            if ended:
                return n + 1
        self.seen[request], self.has_text[request] = len(tokens), has_text
        return None
