"""Continuous batching (transformers' `ContinuousBatchingManager`): outputs come back in prompt
order with the static path's greedy answers, requests end at every stop token, the first-line
stop cuts where `FirstLineStop` does, the model's attention implementation is restored so the
static path works afterwards, and the cost figures.

The tiny random Llama repeats its prompt's last token and, some steps on, switches to another
one; the stop-token and first-line tests turn that switch into a stop token or (by swapping two
token ids in a copy of the model, which the tied embeddings keep consistent) a newline.
The tiny-model tests share one model (building it is most of their time) and are marked slow;
the first-line rule and the cache sizing use stand-ins and run in milliseconds.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from ragft.continuous import CPU_BATCH, _FirstLines, continuous_config, generate_continuous
from ragft.generation import FirstLineStop, generate

from .test_generation import COST_KEYS, PROMPTS

SWITCHES = PROMPTS[0]  # the tiny model answers " begins" 8 times, then another token


def _both(model, tok, prompts, max_new_tokens=8, max_input_tokens=64, **kw):
    """(static outputs, continuous outputs, continuous cost) on the same prompts."""
    static, _ = generate(model, tok, prompts, max_new_tokens=max_new_tokens, batch_size=4,
                         max_input_tokens=max_input_tokens, progress=False, **kw)  # fmt: skip
    cont, cost = generate_continuous(
        model, tok, prompts, max_new_tokens=max_new_tokens, max_input_tokens=max_input_tokens,
        progress=False, **kw,
    )  # fmt: skip
    return static, cont, cost


def _switch(model, tok, prompt: str, steps: int = 12) -> tuple[int, int]:
    """(step, token) where the greedy continuation of `prompt` first changes token."""
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=steps, do_sample=False,
                             pad_token_id=tok.pad_token_id)  # fmt: skip
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    step = next(i for i, t in enumerate(new) if t != new[0])
    return step, new[step]


# the tiny model -------------------------------------------------------------------------


@pytest.mark.slow
def test_outputs_are_in_prompt_order_with_the_static_greedy_answers(tiny):
    model, tok = tiny
    static, cont, _ = _both(model, tok, PROMPTS)
    assert cont == static
    for prompt, out in zip(PROMPTS, cont, strict=True):
        assert out.prompt_tokens == len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert out.new_tokens == 8


@pytest.mark.slow
def test_requests_end_at_any_of_the_stop_tokens(tiny):
    model, tok = tiny
    step, token = _switch(model, tok, SWITCHES)
    assert step > 0
    stopping = copy.deepcopy(model)  # the model's own end tokens join the stop ids
    stopping.generation_config.eos_token_id = [tok.eos_token_id, token]
    static, cont, cost = _both(stopping, tok, PROMPTS, max_new_tokens=12)
    assert cont == static
    assert cont[0].new_tokens == step
    assert cont[0].text == " begins" * step
    assert cost.generated_tokens == sum(o.new_tokens for o in cont)


@pytest.mark.slow
def test_first_line_stop_cuts_where_the_static_path_does(tiny):
    model, tok = tiny
    step, token = _switch(model, tok, SWITCHES)
    (newline,) = tok("\n", add_special_tokens=False)["input_ids"]
    lines = copy.deepcopy(model)  # token ids `token` and newline swapped: it now writes "\n"
    emb = lines.get_input_embeddings().weight
    assert lines.get_output_embeddings().weight is emb  # tied: outputs swap with inputs
    with torch.no_grad():
        emb[[newline, token]] = emb[[token, newline]].clone()
    static, cont, cost = _both(lines, tok, PROMPTS, max_new_tokens=12, first_line=True)
    assert cont == static
    assert cont[0].new_tokens == step + 1  # the newline that ends the line is kept
    assert cont[0].text == " begins" * step + "\n"
    assert cost.generated_tokens == sum(o.new_tokens for o in cont)
    whole, _ = generate_continuous(lines, tok, PROMPTS, max_new_tokens=12, max_input_tokens=64,
                                   progress=False)  # fmt: skip
    assert whole[0].new_tokens == 12 and whole[0].text.startswith(cont[0].text)
    assert whole[1:] == cont[1:]  # no newline there: nothing to cut


@pytest.mark.slow
def test_the_attention_implementation_is_restored_for_the_static_path(tiny):
    model, tok = tiny
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")  # the manager runs it as paged|eager
    before, _ = generate(eager, tok, PROMPTS, max_new_tokens=6, batch_size=4,
                         max_input_tokens=64, progress=False)  # fmt: skip
    cont, _ = generate_continuous(eager, tok, PROMPTS, max_new_tokens=6, max_input_tokens=64,
                                  progress=False)  # fmt: skip
    assert eager.config._attn_implementation == "eager"
    after, _ = generate(eager, tok, PROMPTS, max_new_tokens=6, batch_size=4,
                        max_input_tokens=64, progress=False)  # fmt: skip
    assert cont == before == after
    generate_continuous(model, tok, PROMPTS[:2], max_new_tokens=2, max_input_tokens=64,
                        progress=False)  # fmt: skip
    assert model.config._attn_implementation == "sdpa"  # kept as it is


@pytest.mark.slow
def test_prompts_are_cut_to_max_input_tokens(tiny):
    model, tok = tiny
    long = " ".join(f"word{i}" for i in range(200))
    static, cont, _ = _both(model, tok, [long, "hi"], max_new_tokens=3, max_input_tokens=16)
    assert [o.prompt_tokens for o in cont] == [
        16,
        len(tok("hi", add_special_tokens=False)["input_ids"]),
    ]
    assert cont == static


@pytest.mark.slow
def test_cost_figures(tiny):
    model, tok = tiny
    out, cost = generate_continuous(model, tok, PROMPTS, max_new_tokens=3, max_input_tokens=64,
                                    progress=False)  # fmt: skip
    assert set(dataclasses.asdict(cost)) == COST_KEYS
    assert cost.generate_batch_size == CPU_BATCH  # batch_size=0 on the CPU
    assert cost.generated_tokens == sum(o.new_tokens for o in out) == 3 * len(PROMPTS)
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    assert cost.prompt_tokens_per_question == round(sum(lengths) / len(lengths), 1)
    assert cost.generate_seconds > 0
    assert cost.seconds_per_question == pytest.approx(
        cost.generate_seconds / len(PROMPTS), abs=1e-3
    )
    _, two = generate_continuous(model, tok, PROMPTS, max_new_tokens=2, max_input_tokens=64,
                                 progress=False, batch_size=2)  # fmt: skip
    assert two.generate_batch_size == 2
    assert generate_continuous(model, tok, [], max_new_tokens=2, max_input_tokens=64,
                               progress=False)[0] == []  # fmt: skip
    with pytest.raises(ValueError, match=r"prompts \[1\] have no tokens"):
        generate_continuous(model, tok, ["hi", ""], max_new_tokens=2, max_input_tokens=64,
                            progress=False)  # fmt: skip


# stand-ins ------------------------------------------------------------------------------


class PieceTokenizer:
    pieces = {1: " Paris", 2: "\n", 3: " more", 4: "  ", 5: "a\nb", 6: "\n\n", 7: "\nRome"}

    def decode(self, ids):
        return "".join(self.pieces[i] for i in ids)


@pytest.mark.parametrize(
    "row",
    [[1, 2, 3], [2, 4, 1, 2, 3], [5, 3], [6, 7, 3], [6, 7, 2, 1], [1, 3, 3], [3, 6, 1]],
)
def test_first_lines_end_where_first_line_stop_does(row):
    stop, lines = FirstLineStop(PieceTokenizer(), 1), _FirstLines(PieceTokenizer())
    expected = next((n + 1 for n in range(len(row))
                     if stop(torch.tensor([[9, row[n]]]), None).item()), None)  # fmt: skip
    # streamed as the manager does: each output holds all tokens so far
    ends = [lines.end(0, row[: n + 1]) for n in range(len(row))]
    found = next((e for e in ends if e is not None), None)
    assert found == expected
    assert _FirstLines(PieceTokenizer()).end(7, row) == expected  # all at once


def test_continuous_config_sizes_the_cache_for_the_batch_on_the_cpu():
    cfg = continuous_config(torch.device("cpu"), 0, longest=100, max_new_tokens=28)
    pages = -(-(100 + 28) // cfg.page_size) + 1
    assert cfg.max_requests_per_batch == CPU_BATCH
    assert cfg.num_blocks * 0.85 >= CPU_BATCH * pages  # above the scheduler's safety margin
    assert cfg.max_batch_tokens >= CPU_BATCH
    assert continuous_config(torch.device("cpu"), 4, 100, 28).max_requests_per_batch == 4
    gpu = continuous_config(torch.device("cuda"), 0, 100, 28)  # sized by transformers
    assert (gpu.num_blocks, gpu.max_batch_tokens, gpu.max_requests_per_batch) == (None,) * 3
