"""Batched greedy generation: outputs come back in prompt order although batches are sorted
by length, batch size does not change greedy answers, decoding stops at the end marker, the
GPU batch-size arithmetic (by hand), the OOM retry, and the cost figures.

The tiny-model tests share one model (building it is most of their time) and are marked
slow; the arithmetic and stop-id tests use small stand-ins and run in milliseconds."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from ragft.generation import (
    FirstLineStop,
    _count_until_stop,
    _element_bytes,
    _stop_ids,
    fill_batch_size,
    generate,
)

COST_KEYS = {
    "generate_seconds",
    "generated_tokens",
    "generate_tokens_per_s",
    "seconds_per_question",
    "generate_batch_size",
    "prompt_tokens_per_question",
}
# different lengths, deliberately not in length order
PROMPTS = [
    "what is the capital of the country where the river begins",
    "hi",
    "a b c d e f",
    "who wrote the book",
    "one two three four five six seven eight nine ten eleven",
    "x",
]


def _gen(model, tok, prompts, batch_size, max_new_tokens=5, max_input_tokens=64):
    return generate(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        max_input_tokens=max_input_tokens,
        progress=False,
    )


# the tiny model -------------------------------------------------------------------------


@pytest.mark.slow
def test_outputs_are_in_prompt_order_despite_length_sorting(tiny):
    model, tok = tiny
    together, _ = _gen(model, tok, PROMPTS, batch_size=3)
    assert len(together) == len(PROMPTS)
    for prompt, out in zip(PROMPTS, together, strict=True):
        n = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert out.prompt_tokens == n, prompt
        alone, _ = _gen(model, tok, [prompt], batch_size=1)
        assert out == alone[0], prompt


@pytest.mark.slow
def test_batch_size_does_not_change_greedy_outputs(tiny):
    model, tok = tiny
    one, cost1 = _gen(model, tok, PROMPTS, batch_size=1)
    four, cost4 = _gen(model, tok, PROMPTS, batch_size=4)
    assert one == four
    assert (cost1.generate_batch_size, cost4.generate_batch_size) == (1, 4)
    assert cost1.generated_tokens == cost4.generated_tokens


@pytest.mark.slow
def test_prompts_are_cut_to_max_input_tokens(tiny):
    model, tok = tiny
    long = " ".join(f"word{i}" for i in range(200))
    assert len(tok(long, add_special_tokens=False)["input_ids"]) > 16
    out, _ = _gen(model, tok, [long, "hi"], batch_size=2, max_input_tokens=16)
    assert out[0].prompt_tokens == 16
    assert out[1].prompt_tokens == len(tok("hi", add_special_tokens=False)["input_ids"])


@pytest.mark.slow
def test_cost_figures(tiny):
    model, tok = tiny
    out, cost = _gen(model, tok, PROMPTS, batch_size=0, max_new_tokens=3)
    assert set(dataclasses.asdict(cost)) == COST_KEYS
    assert cost.generate_batch_size == 16  # batch_size=0 on the CPU
    assert cost.generated_tokens == sum(o.new_tokens for o in out)
    assert all(0 <= o.new_tokens <= 3 for o in out)
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    assert cost.prompt_tokens_per_question == round(sum(lengths) / len(lengths), 1)
    assert cost.generate_seconds > 0
    assert cost.seconds_per_question == pytest.approx(
        cost.generate_seconds / len(PROMPTS), abs=1e-3
    )
    assert cost.generate_tokens_per_s == pytest.approx(
        cost.generated_tokens / cost.generate_seconds, rel=0.05
    )


class FakeModel:
    """Answers every prompt with `continuation`; runs out of memory above `oom_above` rows."""

    def __init__(self, continuation: list[int], oom_above: int | None = None):
        self.continuation = continuation
        self.oom_above = oom_above
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.batches: list[int] = []
        self.kwargs: dict = {}

    def parameters(self):
        yield self.weight

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        self.batches.append(input_ids.shape[0])
        self.kwargs = kwargs
        if self.oom_above is not None and input_ids.shape[0] > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")
        new = torch.tensor(self.continuation[:max_new_tokens]).repeat(input_ids.shape[0], 1)
        return torch.cat([input_ids, new], dim=1)


@pytest.mark.slow
def test_decoding_stops_at_the_end_marker_and_counts_tokens_before_it(tiny):
    _, tok = tiny
    words = tok(" Paris France", add_special_tokens=False)["input_ids"]
    end = tok.convert_tokens_to_ids("<|im_end|>")
    fake = FakeModel([*words, end, *words])
    out, cost = _gen(fake, tok, ["q one", "q two two"], batch_size=2, max_new_tokens=10)
    assert [o.new_tokens for o in out] == [len(words), len(words)]
    assert [o.text for o in out] == [" Paris France", " Paris France"]
    assert cost.generated_tokens == 2 * len(words)
    assert fake.kwargs["do_sample"] is False and fake.kwargs["num_beams"] == 1
    assert fake.kwargs["pad_token_id"] == tok.pad_token_id
    assert end in fake.kwargs["eos_token_id"]


@pytest.mark.slow
def test_an_out_of_memory_batch_is_retried_at_half_the_size(tiny):
    _, tok = tiny
    fake = FakeModel(tok("ok", add_special_tokens=False)["input_ids"], oom_above=2)
    prompts = [f"question {'x ' * i}" for i in range(5)]
    out, cost = _gen(fake, tok, prompts, batch_size=8)
    # 8 (all 5 prompts) and 4 run out of memory; then batches of 2 go through
    assert fake.batches == [5, 4, 2, 2, 1]
    assert [o.text for o in out] == ["ok"] * 5
    assert cost.generate_batch_size == 8  # the size asked for first
    with pytest.raises(torch.cuda.OutOfMemoryError):
        _gen(FakeModel([1], oom_above=0), tok, ["q"], batch_size=1)


# stand-ins ------------------------------------------------------------------------------


def test_count_until_stop():
    assert _count_until_stop([5, 6, 2, 7], stops=[2], pad=None) == 2
    assert _count_until_stop([2, 5], stops=[2], pad=None) == 0
    assert _count_until_stop([5, 6, 7], stops=[2, 9], pad=None) == 3
    assert _count_until_stop([5, 9, 7], stops=[2], pad=9) == 1  # padding ends a row too
    assert _count_until_stop([5, 6, 9], stops=[9, 2], pad=0) == 2
    assert _count_until_stop([], stops=[2], pad=0) == 0


class MarkerTokenizer:
    eos_token_id = 0
    unk_token_id = 3
    vocab = {"<|im_end|>": 7, "<|eot_id|>": 3, "<|end|>": 3}  # 3: unknown to this tokenizer

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.vocab.get(token, self.unk_token_id)


def test_stop_ids_are_eos_and_the_chat_markers_the_tokenizer_knows():
    assert _stop_ids(MarkerTokenizer()) == [0, 7]
    tok = MarkerTokenizer()
    tok.vocab = {"<|im_end|>": 3, "<|eot_id|>": 5, "<|end|>": 9}
    assert _stop_ids(tok) == [0, 5, 9]
    tok.eos_token_id = None
    assert _stop_ids(tok) == [5, 9]


LLAMA = SimpleNamespace(
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    vocab_size=1000,
)


def test_fill_batch_size_by_hand():
    # one sequence of 10 tokens at 4 bytes an element:
    #   KV cache 2 x 2 layers x 2 kv heads x 16 head dim x 10 tokens x 4 = 5120
    #   prefill  10 x (4 x 64 + 2 x 128) x 4                             = 20480
    #   logits   2 x 1000 x 4                                            = 8000
    # 33600 bytes; 80% of 1,000,000 = 800,000 holds 23 of them (24 would need 806,400)
    assert fill_batch_size(LLAMA, tokens=10, free_bytes=1_000_000, element_bytes=4) == 23
    assert fill_batch_size(LLAMA, tokens=10, free_bytes=1_008_000, element_bytes=4) == 24
    assert fill_batch_size(LLAMA, tokens=10, free_bytes=100, element_bytes=4) == 1
    assert fill_batch_size(LLAMA, tokens=10, free_bytes=10**12, element_bytes=4) == 512
    assert fill_batch_size(LLAMA, tokens=10, free_bytes=10**12, element_bytes=4, cap=64) == 64


def test_fill_batch_size_defaults_for_missing_config_fields():
    # no kv heads (-> 4 heads), explicit head_dim 32, no intermediate size (-> 4 x 64):
    #   KV 2 x 1 x 4 x 32 x 5 x 2 = 2560; prefill 5 x (256 + 512) x 2 = 7680; logits 80
    # 10320 bytes; 80% of 10,000,000 holds 775
    cfg = SimpleNamespace(
        num_attention_heads=4,
        num_key_value_heads=None,
        head_dim=32,
        hidden_size=64,
        num_hidden_layers=1,
        vocab_size=10,
    )
    assert fill_batch_size(cfg, 5, 10_000_000, 2, cap=1000) == 775
    assert fill_batch_size(cfg, 5, 10_000_000, 2) == 512


def test_element_bytes_of_the_compute_dtype():
    assert _element_bytes(SimpleNamespace(dtype=torch.float32)) == 4
    assert _element_bytes(SimpleNamespace(dtype=torch.bfloat16)) == 2
    assert _element_bytes(SimpleNamespace(dtype=torch.int8)) == 2  # 8-bit weights: bf16 compute
    assert _element_bytes(SimpleNamespace()) == 4


class PieceTokenizer:
    pieces = {1: " Paris", 2: "\n", 3: " more", 4: "  ", 5: "a\nb", 6: "\n\n", 7: "\nRome"}

    def decode(self, ids):
        return "".join(self.pieces[i] for i in ids)


def _stops(rows: list[list[int]]) -> list[list[bool]]:
    """FirstLineStop's verdict after each step of each row."""
    crit, seen = FirstLineStop(PieceTokenizer(), len(rows)), []
    for step in range(len(rows[0])):
        ids = torch.tensor([[9, r[step]] for r in rows])
        seen.append(crit(ids, None).tolist())
    return [list(col) for col in zip(*seen, strict=True)]


def test_first_line_stop_ends_a_row_when_a_newline_follows_text():
    assert _stops([[1, 2, 3]]) == [[False, True, True]]  # "Paris\n": done, and stays done
    assert _stops([[2, 4, 1, 2]]) == [[False, False, False, True]]  # leading blank lines
    assert _stops([[5, 3]]) == [[True, True]]  # text and newline in one piece
    assert _stops([[6, 7, 3]]) == [[False, False, False]]  # "\n\n" then "\nRome": no end yet
    assert _stops([[6, 7, 2], [1, 3, 3]]) == [[False, False, True], [False, False, False]]


class Force:
    """A logits processor that makes greedy decoding follow a script of token ids."""

    def __init__(self, script: list[int]):
        self.script = script

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.start if hasattr(self, "start") else 0
        self.start = getattr(self, "start", input_ids.shape[1])
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.script[min(step, len(self.script) - 1)]] = 0.0
        return forced


@pytest.mark.slow
def test_answers_stop_after_their_first_line_and_save_the_tokens(tiny):
    model, tok = tiny
    answer = tok(" Paris", add_special_tokens=False)["input_ids"]
    newline = tok("\n", add_special_tokens=False)["input_ids"]
    rest = tok(" and then some more words here", add_special_tokens=False)["input_ids"]
    script = [*newline, *answer, *newline, *rest]  # a blank first line, the answer, then more

    def run(first_line):
        return generate(model, tok, ["q"], max_new_tokens=len(script), batch_size=1,
                        max_input_tokens=64, progress=False, first_line=first_line,
                        constrain=lambda eos: [Force(script)])  # fmt: skip

    (short,), cost = run(True)
    (full,), _ = run(False)
    assert full.new_tokens == len(script)
    assert short.new_tokens == len(newline) * 2 + len(answer) < full.new_tokens
    assert short.text.strip() == full.text.strip().splitlines()[0].strip() == "Paris"
    assert cost.generated_tokens == short.new_tokens


def test_stop_ids_include_the_models_own_end_tokens():
    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[11, 0]))
    assert _stop_ids(MarkerTokenizer(), model) == [0, 7, 11]
    model.generation_config.eos_token_id = 12
    assert _stop_ids(MarkerTokenizer(), model) == [0, 7, 12]
    assert _stop_ids(MarkerTokenizer(), SimpleNamespace()) == [0, 7]


@pytest.mark.slow
def test_answer_fits_prompts_to_the_budget_and_records_the_cut_passages(tiny):
    from ragft.answering import local
    from ragft.generation import answer
    from ragft.prompting import PromptBuilder
    from ragft.types import Passage, QAExample

    model, tok = tiny
    builder = PromptBuilder(tok)
    hits = [Passage(f"c{r}", f"d{r}", " ".join(["lorem ipsum dolor"] * 30), 1.0 / r, r)
            for r in (1, 2, 3)]  # fmt: skip
    examples = [QAExample("q1", "Who founded the society?", ("X",)),
                QAExample("q2", "Where?", ("Y",))]  # fmt: skip
    budget = builder.n_tokens(builder.prompt(examples[0].question, hits[:2]))
    ask = local(model, tok, max_new_tokens=2, batch_size=2, max_input_tokens=budget,
                progress=False)  # fmt: skip
    preds, outs, _ = answer(ask, builder.fitted, examples, [hits, hits[:1]], budget)
    assert [p.cut_passages for p in preds] == [1, 0]
    assert preds[0].prompt == builder.prompt(examples[0].question, hits[:2])
    assert preds[0].passages == tuple(hits)  # as retrieved: the retrieval metrics read these
    assert all(o.prompt_tokens <= budget for o in outs)


@pytest.mark.parametrize(
    ("batching", "n", "new", "expected"),
    [("static", 200, 128, "static"), ("continuous", 2, 1, "continuous"),
     ("auto", 200, 63, "static"), ("auto", 4, 128, "static"), ("auto", 5, 64, "continuous")],
)  # fmt: skip
def test_local_picks_static_or_continuous_batching(monkeypatch, batching, n, new, expected):
    from ragft import answering, continuous, generation

    called = []
    monkeypatch.setattr(generation, "generate", lambda *a, **k: called.append("static"))
    monkeypatch.setattr(
        continuous, "generate_continuous", lambda *a, **k: called.append("continuous")
    )
    ask = answering.local(None, None, max_new_tokens=new, batch_size=4, max_input_tokens=8,
                           batching=batching)  # fmt: skip
    ask(["q"] * n)
    assert called == [expected]
