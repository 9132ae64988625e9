"""Batched greedy answer generation with left padding."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class Generated:
    text: str
    new_tokens: int
    prompt_tokens: int


def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    max_input_tokens: int,
    progress: bool = True,
) -> tuple[list[Generated], dict[str, float]]:
    """Greedy-decode every prompt; return outputs in prompt order and cost figures.

    Prompts are sorted by length so each batch pads little; the chat template already holds
    any special tokens, so none are added here.
    """
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[Generated | None] = [None] * len(prompts)
    device = next(model.parameters()).device
    eos = _stop_ids(tokenizer)
    t0 = time.perf_counter()
    total_new = 0
    bar = tqdm(total=len(prompts), desc="generate", unit="q", disable=not progress)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [prompts[i] for i in idx],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=max_input_tokens,
            add_special_tokens=False,
        ).to(device)
        with torch.inference_mode():
            out = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        for row, i in enumerate(idx):
            n = _count_until_stop(new[row].tolist(), eos, tokenizer.pad_token_id)
            text = tokenizer.decode(new[row, :n], skip_special_tokens=True)
            prompt_len = int(batch["attention_mask"][row].sum())
            results[i] = Generated(text=text, new_tokens=n, prompt_tokens=prompt_len)
            total_new += n
        bar.update(len(idx))
    bar.close()
    seconds = time.perf_counter() - t0
    cost = {
        "generate_seconds": round(seconds, 3),
        "generated_tokens": total_new,
        "generate_tokens_per_s": round(total_new / seconds, 2) if seconds > 0 else 0.0,
        "seconds_per_question": round(seconds / max(len(prompts), 1), 4),
    }
    return [r for r in results if r is not None], cost


def _stop_ids(tokenizer) -> list[int]:
    ids = {tokenizer.eos_token_id}
    # chat models end a turn with their own marker (e.g. <|im_end|>, <|eot_id|>)
    for marker in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
        tid = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(i for i in ids if i is not None)


def _count_until_stop(tokens: list[int], stops: list[int], pad: int | None) -> int:
    for n, t in enumerate(tokens):
        if t in stops or (pad is not None and t == pad):
            return n
    return len(tokens)
