"""Batched greedy answer generation with left padding."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ragft.progress import bar as progress_bar
from ragft.prompting import extract_answer
from ragft.records import GenerationStats
from ragft.types import Passage, Prediction, QAExample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    text: str
    new_tokens: int
    prompt_tokens: int


def generate(
    model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int,
    max_input_tokens: int, progress: bool = True,
    constrain: Callable[[list[int]], list] | None = None, first_line: bool = False,
) -> tuple[list[Generated], GenerationStats]:  # fmt: skip
    """Greedy-decode every prompt; return outputs in prompt order and cost figures.

    Prompts are sorted by length so each batch pads little; the chat template already holds
    any special tokens, so none are added here. `batch_size=0` fills the GPU: as many prompts
    per batch as its free memory holds (16 on the CPU); a batch that runs out of GPU memory
    is retried at half the size. `constrain(stop_ids)`, when given, makes the logits
    processors of one batch (fresh per batch: constrained decoders keep state per row).
    `first_line=True` stops a row at the end of its first non-empty line, where only that
    line is kept (`extract_answer`): no tokens are generated to be thrown away.
    """
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[Generated | None] = [None] * len(prompts)
    if batch_size == 0:
        batch_size = auto_batch_size(model, tokenizer, prompts, max_new_tokens, max_input_tokens)
    first_batch_size, eos, start = batch_size, _stop_ids(tokenizer, model), 0
    t0 = time.perf_counter()
    bar = progress_bar(len(prompts), "generate", "q", disable=not progress)
    while start < len(order):
        idx = order[start : start + batch_size]
        texts = [prompts[i] for i in idx]
        try:
            processors = constrain(eos) if constrain is not None else None
            done = _generate_batch(
                model, tokenizer, texts, eos, max_new_tokens, max_input_tokens, processors,
                first_line,
            )  # fmt: skip
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
            torch.cuda.empty_cache()
            batch_size = max(1, batch_size // 2)
            continue
        start += len(idx)
        for i, g in zip(idx, done, strict=True):
            results[i] = g
        bar.update(len(idx))
    bar.close()
    done = [r for r in results if r is not None]
    return done, cost_figures(done, time.perf_counter() - t0, first_batch_size)


def cost_figures(outputs: Sequence[Generated], seconds: float, batch: int) -> GenerationStats:
    """What answering cost: time, new tokens (and per second), seconds and prompt tokens per
    question; `batch` is what was decoded together (a batch, a pass, requests in flight)."""
    new = sum(g.new_tokens for g in outputs)
    return GenerationStats(
        generate_seconds=round(seconds, 3),
        generated_tokens=new,
        generate_tokens_per_s=round(new / seconds, 2) if seconds > 0 else 0.0,
        seconds_per_question=round(seconds / max(len(outputs), 1), 4),
        generate_batch_size=batch,
        prompt_tokens_per_question=round(sum(g.prompt_tokens for g in outputs) / len(outputs), 1)
        if outputs else None,
    )  # fmt: skip


def _generate_batch(
    model,
    tokenizer,
    texts: list[str],
    eos: list[int],
    max_new_tokens: int,
    max_input_tokens: int,
    logits_processors: list | None = None,
    first_line: bool = False,
) -> list[Generated]:
    """Greedy-decode one left-padded batch; each output cut at its first stop token (and,
    with `first_line`, ended after its first non-empty line)."""
    device = next(model.parameters()).device
    batch = tokenizer(
        texts,
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
            **({"logits_processor": logits_processors} if logits_processors else {}),
            **({"stopping_criteria": [FirstLineStop(tokenizer, len(texts))]} if first_line else {}),
        )
    new = out[:, batch["input_ids"].shape[1] :]
    done = []
    for row in range(len(texts)):
        n = _count_until_stop(new[row].tolist(), eos, tokenizer.pad_token_id)
        text = tokenizer.decode(new[row, :n], skip_special_tokens=True)
        prompt_len = int(batch["attention_mask"][row].sum())
        done.append(Generated(text=text, new_tokens=n, prompt_tokens=prompt_len))
    return done


def predictions(
    examples: Sequence[QAExample],
    prompts: Sequence[str],
    outputs: Sequence[Generated],
    passages: Sequence[Sequence[Passage]],
    cut: Sequence[int] | None = None,
) -> list[Prediction]:
    """Each eval example with its prompt, its answer (the output's first line), its passages
    as retrieved and how many of them were cut to fit the prompt budget."""
    cut = cut if cut is not None else [0] * len(examples)
    return [
        Prediction(example=ex, prompt=p, answer=extract_answer(o.text), passages=tuple(h),
                   new_tokens=o.new_tokens, cut_passages=c)
        for ex, p, o, h, c in zip(examples, prompts, outputs, passages, cut, strict=True)
    ]  # fmt: skip


Generate = Callable[[Sequence[str]], tuple[list[Generated], GenerationStats]]


def answer(
    generate_fn: Generate,
    prompt: Callable[[str, Sequence[Passage], int], tuple[str, int]],
    examples: Sequence[QAExample],
    hits: Sequence[Sequence[Passage]],
    max_input_tokens: int,
) -> tuple[list[Prediction], list[Generated], GenerationStats]:
    """Ask each example's question (with its retrieved passages) and read the answers.

    `prompt(question, passages, max_input_tokens)` gives the prompt within the budget and how
    many passages it dropped or cut (`PromptBuilder.fitted`): passages give way, never the
    template or the question. `generate_fn` answers the prompts: `answering.local` (this
    process's model) or `served.generator` (an OpenAI-compatible server); both read the
    same prompts.
    """
    fitted = [
        prompt(ex.question, h, max_input_tokens) for ex, h in zip(examples, hits, strict=True)
    ]
    texts, cut = [t for t, _ in fitted], [c for _, c in fitted]
    if any(cut):
        log.warning("%d of %d prompts over model.max_input_tokens=%d: %d passages dropped or cut "
                    "(predictions.jsonl: cut_passages)", sum(c > 0 for c in cut), len(cut),
                    max_input_tokens, sum(cut))  # fmt: skip
    outputs, stats = generate_fn(texts)
    return predictions(examples, texts, outputs, hits, cut), outputs, stats


def auto_batch_size(
    model, tokenizer, prompts: Sequence[str], max_new_tokens: int, max_input_tokens: int
) -> int:
    """The batch that fills the model's GPU (free memory / one sequence's); 16 on the CPU."""
    device = next(model.parameters()).device
    if device.type != "cuda" or not prompts:
        return 16
    longest = max(
        len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    )
    free, _ = torch.cuda.mem_get_info(device)
    tokens = min(longest, max_input_tokens) + max_new_tokens
    return fill_batch_size(model.config, tokens, free, _element_bytes(model))


def fill_batch_size(
    config, tokens: int, free_bytes: int, element_bytes: int, cap: int = 512
) -> int:
    """How many sequences of `tokens` tokens fit in 80% of `free_bytes`.

    One sequence holds its KV cache (2 x layers x kv heads x head dim x tokens), the prefill
    activations of one layer (about 4 x hidden + 2 x intermediate per token) and two rows
    of float32 logits.
    """
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    inter = getattr(config, "intermediate_size", None) or 4 * config.hidden_size
    kv = 2 * config.num_hidden_layers * kv_heads * head_dim * tokens * element_bytes
    prefill = tokens * (4 * config.hidden_size + 2 * inter) * element_bytes
    logits = 2 * config.vocab_size * 4
    return int(max(1, min(cap, int(free_bytes * 0.8) // (kv + prefill + logits))))


def _element_bytes(model) -> int:
    dtype = getattr(model, "dtype", torch.float32)
    if not dtype.is_floating_point:  # 4/8-bit weights compute in their compute dtype
        dtype = torch.bfloat16
    return torch.tensor([], dtype=dtype).element_size()


def _stop_ids(tokenizer, model=None) -> list[int]:
    """The tokenizer's end of text, the chat turn markers it has and the model's own
    `generation_config.eos_token_id` (an int or a list)."""
    ids = {tokenizer.eos_token_id}
    own = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(own if isinstance(own, (list, tuple)) else [own])
    # chat models end a turn with their own marker (e.g. <|im_end|>, <|eot_id|>)
    for marker in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
        tid = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(i for i in ids if i is not None)


class FirstLineStop:
    """A stopping criterion (transformers' `StoppingCriteria` protocol: one bool per row):
    a row is done once a newline follows some text, i.e. its first non-empty line has ended.

    Reads only each step's new token (its decoded piece, memoised per id), so a step costs
    one dictionary lookup per row.
    """

    def __init__(self, tokenizer, rows: int):
        self.tokenizer = tokenizer
        self.pieces: dict[int, str] = {}
        self.has_text = [False] * rows
        self.done = [False] * rows

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        for row, tid in enumerate(input_ids[:, -1].tolist()):
            if not self.done[row]:
                self.done[row], self.has_text[row] = self.ends(tid, self.has_text[row])
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    def ends(self, tid: int, has_text: bool) -> tuple[bool, bool]:
        """(whether token `tid` ends the first line, whether the line has text after it),
        given whether it had text before: the rule, shared with `continuous`."""
        piece = self.pieces.get(tid)
        if piece is None:
            piece = self.pieces[tid] = self.tokenizer.decode([tid])
        for i, segment in enumerate(piece.split("\n")):
            if i > 0 and has_text:  # a newline after text: the line has ended
                return True, has_text
            has_text = has_text or bool(segment.strip())
        return False, has_text


def _count_until_stop(tokens: list[int], stops: list[int], pad: int | None) -> int:
    for n, t in enumerate(tokens):
        if t in stops or (pad is not None and t == pad):
            return n
    return len(tokens)
