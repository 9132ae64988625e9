"""Prompts: the user turn (passages best last, numbered), rendering with and without a chat
template, the completion a model is trained to produce, and reading its answer back.

The expected strings are written out by hand here, so a change to the wording, the order or
the numbering of a prompt fails a test (prompts are part of what a result means)."""

from __future__ import annotations

import pytest

from ragft.prompting import PromptBuilder, completion, extract_answer, render, user_message
from ragft.types import Passage

PLAIN = "Answer the question with a short answer: a name, a place, a year or a few words."
WITH_CONTEXT = (
    "Use the context to answer the question with a short answer: "
    "a name, a place, a year or a few words."
)


def _passage(rank: int, text: str) -> Passage:
    return Passage(chunk_id=f"c{rank}", doc_id=f"d{rank}", text=text, score=1.0 / rank, rank=rank)


def _token_ids(text: str) -> list[int]:
    return [ord(ch) for ch in text]


class ChatMLTokenizer:
    """A small stand-in for a tokenizer with a ChatML chat template (like SmolLM2's).

    Like transformers' `apply_chat_template`, it returns token ids unless told
    `tokenize=False`."""

    chat_template = "chatml"
    eos_token = "<|endoftext|>"

    def __init__(self):
        self.calls: list[list[dict[str, str]]] = []

    def apply_chat_template(self, turns, tokenize=True, add_generation_prompt=False):
        self.calls.append([dict(t) for t in turns])
        text = "".join(f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns)
        text += "<|im_start|>assistant\n" if add_generation_prompt else ""
        return _token_ids(text) if tokenize else text


class PlainTokenizer:
    """A tokenizer without a chat template."""

    chat_template = None
    eos_token = "</s>"


class DriftingTokenizer(ChatMLTokenizer):
    """A template whose assistant turn does not extend its generation prompt."""

    def apply_chat_template(self, turns, tokenize=True, add_generation_prompt=False):
        text = "".join(f"[{t['role']}] {t['content']}\n" for t in turns)
        text += "[bot]" if add_generation_prompt else ""
        return _token_ids(text) if tokenize else text


class RoleColonTokenizer(ChatMLTokenizer):
    """A template without an end-of-turn marker: each turn is "role: content" and a newline."""

    def apply_chat_template(self, turns, tokenize=True, add_generation_prompt=False):
        text = "".join(f"{t['role']}: {t['content']}\n" for t in turns)
        text += "assistant: " if add_generation_prompt else ""
        return _token_ids(text) if tokenize else text


class TrailingSpaceTokenizer(ChatMLTokenizer):
    """A template that ends each turn with its marker, a space and then newlines."""

    def apply_chat_template(self, turns, tokenize=True, add_generation_prompt=False):
        text = "".join(f"<{t['role']}>{t['content']}<|end|> \n\n" for t in turns)
        text += "<assistant>" if add_generation_prompt else ""
        return _token_ids(text) if tokenize else text


class BareTokenizer:
    """A tokenizer object with no `chat_template` attribute at all."""

    eos_token = "</s>"


# user_message ---------------------------------------------------------------------------


def test_without_passages_the_plain_instruction_and_the_trimmed_question():
    expected = f"{PLAIN}\n\nQuestion: Who founded Vellmar?"
    assert user_message("  Who founded Vellmar?\n") == expected
    assert user_message("Who founded Vellmar?", []) == expected
    assert user_message("Who founded Vellmar?", None) == expected


def test_passages_are_numbered_and_listed_best_last_next_to_the_question():
    passages = [_passage(1, " Best passage. "), _passage(2, "Second."), _passage(3, "Third.\n")]
    expected = (
        f"{WITH_CONTEXT}\n\n"
        "Context:\n"
        "[1] Third.\n\n"
        "[2] Second.\n\n"
        "[3] Best passage.\n\n"
        "Question: Where?"
    )
    assert user_message("Where?", passages) == expected


def test_one_passage_is_number_one():
    msg = user_message("Q?", [_passage(1, "Only.")])
    assert msg == f"{WITH_CONTEXT}\n\nContext:\n[1] Only.\n\nQuestion: Q?"


# render ---------------------------------------------------------------------------------


def test_render_uses_the_chat_template_with_a_generation_prompt():
    tok = ChatMLTokenizer()
    text = render(tok, "Hello?")
    assert text == "<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.calls == [[{"role": "user", "content": "Hello?"}]]


def test_render_puts_a_system_prompt_first():
    tok = ChatMLTokenizer()
    text = render(tok, "Hello?", system_prompt="Be brief.")
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHello?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_render_plain_when_asked_or_when_the_tokenizer_has_no_template():
    assert render(ChatMLTokenizer(), "Hello?", chat_template=False) == "Hello?\nAnswer:"
    assert render(PlainTokenizer(), "Hello?") == "Hello?\nAnswer:"
    tok = ChatMLTokenizer()
    render(tok, "Hello?", chat_template=False, system_prompt="ignored without a template")
    assert tok.calls == []  # the template is not even asked


def test_render_plain_for_a_tokenizer_without_a_chat_template_attribute():
    assert render(BareTokenizer(), "Hello?") == "Hello?\nAnswer:"


# completion -----------------------------------------------------------------------------


def test_completion_ends_with_the_templates_end_of_turn_marker():
    tok = ChatMLTokenizer()
    assert completion(tok, "Hello?", "  Paris ") == "Paris<|im_end|>"
    # prompt + completion is exactly the template's rendering of the whole conversation
    full = tok.apply_chat_template(
        [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Paris"}],
        tokenize=False,
    )
    assert render(tok, "Hello?") + completion(tok, "Hello?", "Paris") == full.rstrip("\n")


def test_completion_with_a_system_prompt_renders_the_same_conversation():
    tok = ChatMLTokenizer()
    assert completion(tok, "Hi?", "Oslo", system_prompt="Be brief.") == "Oslo<|im_end|>"
    assert tok.calls[-1][0] == {"role": "system", "content": "Be brief."}


def test_completion_without_a_template_is_the_answer_and_eos_after_a_space():
    # the plain prompt ends in "Answer:", so the completion starts with a space
    assert completion(ChatMLTokenizer(), "Q?", "Paris", chat_template=False) == (
        " Paris<|endoftext|>"
    )
    tok = PlainTokenizer()
    assert render(tok, "Q?", chat_template=False) + completion(
        tok, "Q?", " Paris", chat_template=False
    ) == ("Q?\nAnswer: Paris</s>")


def test_completion_falls_back_to_answer_and_eos_when_the_template_does_not_extend():
    assert completion(DriftingTokenizer(), "Q?", "Paris") == "Paris<|endoftext|>"


def test_completion_without_an_eos_token_is_just_the_answer():
    tok = PlainTokenizer()
    tok.eos_token = None
    assert completion(tok, "Q?", "Paris", chat_template=False) == " Paris"


def test_completion_after_a_plain_fallback_prompt_starts_with_a_space_too():
    # Templates on, but the tokenizer has none: render falls back to the plain prompt, so the
    # target is the same as with templates off (prompt + target reads "Answer: Paris").
    for tok in (PlainTokenizer(), BareTokenizer()):
        target = completion(tok, "Q?", "Paris")
        assert target == " Paris</s>"
        assert render(tok, "Q?") + target == "Q?\nAnswer: Paris</s>"
        assert target == completion(tok, "Q?", "Paris", chat_template=False)


def test_completion_keeps_the_templates_text_after_the_answer_except_trailing_newlines():
    tok = TrailingSpaceTokenizer()
    target = completion(tok, "Q?", "Paris")
    assert target == "Paris<|end|> "
    full = tok.apply_chat_template(
        [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "Paris"}],
        tokenize=False,
    )
    assert render(tok, "Q?") + target == full.rstrip("\n")


def test_completion_is_the_whole_answer_when_the_template_has_no_end_marker():
    assert completion(RoleColonTokenizer(), "Who?", "Malcolm X") == "Malcolm X"
    assert render(RoleColonTokenizer(), "Who?") == "user: Who?\nassistant: "


# extract_answer -------------------------------------------------------------------------


def test_extract_answer_is_the_first_non_empty_line_trimmed():
    assert extract_answer("  Paris  ") == "Paris"
    assert extract_answer("\n\n   Oslo, Norway \nIt is the capital.\n") == "Oslo, Norway"
    assert extract_answer("first\n\nsecond") == "first"
    assert extract_answer("") == ""
    assert extract_answer(" \n\t\n ") == ""


# PromptBuilder --------------------------------------------------------------------------


def test_prompt_builder_prompt_is_the_templated_user_message_with_passages_best_last():
    tok = ChatMLTokenizer()
    prompts = PromptBuilder(tok)
    text = prompts.prompt("  Where? ", [_passage(1, "Best."), _passage(2, "Second.")])
    assert text == (
        "<|im_start|>user\n"
        f"{WITH_CONTEXT}\n\nContext:\n[1] Second.\n\n[2] Best.\n\nQuestion: Where?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompts.prompt("Where?") == (
        f"<|im_start|>user\n{PLAIN}\n\nQuestion: Where?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_prompt_builder_training_target_continues_its_own_prompt():
    tok = ChatMLTokenizer()
    prompts = PromptBuilder(tok)
    assert prompts.render("Hello?") == "<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n"
    assert prompts.complete("Hello?", " Paris ") == "Paris<|im_end|>"
    # the target was read off the conversation of this very message and answer
    assert tok.calls[-1] == [
        {"role": "user", "content": "Hello?"},
        {"role": "assistant", "content": "Paris"},
    ]


def test_prompt_builder_passes_its_system_prompt_to_prompts_and_targets():
    tok = ChatMLTokenizer()
    prompts = PromptBuilder(tok, system_prompt="Be brief.")
    assert prompts.render("Hi?") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    tok.calls.clear()
    assert prompts.complete("Hi?", "Oslo") == "Oslo<|im_end|>"
    system = {"role": "system", "content": "Be brief."}
    assert tok.calls and all(turns[0] == system for turns in tok.calls)
    assert tok.calls[-1][1:] == [
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Oslo"},
    ]


def test_prompt_builder_with_templates_off_is_plain_for_prompts_and_targets():
    tok = ChatMLTokenizer()
    prompts = PromptBuilder(tok, chat_template=False, system_prompt="ignored")
    assert prompts.render("Q?") == "Q?\nAnswer:"
    assert prompts.prompt("Q?") == f"{PLAIN}\n\nQuestion: Q?\nAnswer:"
    assert prompts.complete("Q?", "Paris") == " Paris<|endoftext|>"
    assert tok.calls == []


@pytest.mark.parametrize(("eos", "expected"), [("</s>", "</s>"), (None, "")])
def test_prompt_builder_end_of_text_is_the_eos_token_or_nothing(eos, expected):
    tok = PlainTokenizer()
    tok.eos_token = eos
    assert PromptBuilder(tok).end_of_text == expected


# ---------------------------------------------------------------- prompt templates (issue 14)

from pathlib import Path  # noqa: E402

from omegaconf import OmegaConf  # noqa: E402

from ragft.config import PromptConfig, Shot  # noqa: E402

PROMPT_DIR = Path(__file__).resolve().parents[2] / "ragft" / "conf" / "prompt"
ABSTAIN_WITH_CONTEXT = "If the answer is not in the context, answer exactly: I don't know."
ABSTAIN_CLOSED_BOOK = "If you do not know the answer, answer exactly: I don't know."


def test_the_default_template_is_byte_identical_to_the_old_closed_book_prompt():
    old = (
        "Answer the question with a short answer: a name, a place, a year or a few words."
        "\n\nQuestion: Who founded Vellmar?"
    )
    assert user_message("  Who founded Vellmar? \n") == old
    assert user_message("Who founded Vellmar?", None, PromptConfig()) == old
    assert user_message("Who founded Vellmar?", []) == old
    assert PromptBuilder(PlainTokenizer()).message("Who founded Vellmar?") == old


def test_the_default_template_is_byte_identical_to_the_old_prompt_with_two_passages():
    best, second = _passage(1, " Vellmar was founded by Ada Brun. "), _passage(2, "Orsk is on Tal.")
    old = (
        "Use the context to answer the question with a short answer: a name, a place, a year "
        "or a few words.\n\nContext:\n[1] Orsk is on Tal.\n\n[2] Vellmar was founded by Ada "
        "Brun.\n\nQuestion: Who founded Vellmar?"
    )
    assert user_message("Who founded Vellmar?", [best, second]) == old
    assert user_message("Who founded Vellmar?", (best, second), PromptConfig()) == old
    assert PromptBuilder(PlainTokenizer()).message("Who founded Vellmar?", [best, second]) == old


def test_abstain_appends_the_context_rule_when_passages_are_shown():
    template = PromptConfig(abstain=True)
    got = user_message("Who founded Vellmar?", [_passage(1, "Orsk is on Tal.")], template)
    assert got == (
        f"{WITH_CONTEXT} {ABSTAIN_WITH_CONTEXT}\n\nContext:\n[1] Orsk is on Tal.\n\n"
        "Question: Who founded Vellmar?"
    )


def test_abstain_appends_the_closed_book_rule_without_passages():
    got = user_message("Who founded Vellmar?", None, PromptConfig(abstain=True))
    assert got == f"{PLAIN} {ABSTAIN_CLOSED_BOOK}\n\nQuestion: Who founded Vellmar?"


def test_abstain_uses_the_templates_own_rules_and_only_when_abstain_is_on():
    template = PromptConfig(
        instruction="Short.", context_instruction="Use it.", abstain=True,
        abstain_instruction="Else: no idea.", abstain_closed_book="Else: pass.",
    )  # fmt: skip
    assert user_message("Q?", None, template) == "Short. Else: pass.\n\nQuestion: Q?"
    assert user_message("Q?", [_passage(1, "P.")], template) == (
        "Use it. Else: no idea.\n\nContext:\n[1] P.\n\nQuestion: Q?"
    )
    off = PromptConfig(instruction="Short.", abstain=False, abstain_closed_book="Else: pass.")
    assert user_message("Q?", None, off) == "Short.\n\nQuestion: Q?"


SHOTS = PromptConfig(
    shots=[
        Shot(" Where was Merel born? ", " Kessling ", " Merel was born in Kessling. "),
        Shot(question="What year?", answer="1842", context=None),
    ]
)


def test_shots_render_as_an_examples_block_without_their_context_closed_book():
    assert user_message("Who founded Vellmar?", None, SHOTS) == (
        f"{PLAIN}\n\nExamples:\n\n"
        "Question: Where was Merel born?\nAnswer: Kessling\n\n"
        "Question: What year?\nAnswer: 1842\n\n"
        "Question: Who founded Vellmar?"
    )


def test_shots_carry_their_context_when_passages_are_given():
    got = user_message("Who founded Vellmar?", [_passage(1, "Vellmar was founded by Ada.")], SHOTS)
    assert got == (
        f"{WITH_CONTEXT}\n\nExamples:\n\n"
        "Context:\n[1] Merel was born in Kessling.\n"
        "Question: Where was Merel born?\nAnswer: Kessling\n\n"
        "Question: What year?\nAnswer: 1842\n\n"
        "Context:\n[1] Vellmar was founded by Ada.\n\n"
        "Question: Who founded Vellmar?"
    )


def test_shots_and_abstain_together_keep_the_rule_on_the_instruction_line():
    template = PromptConfig(abstain=True, shots=[Shot(question="Q1?", answer="A1")])
    assert user_message("Q?", None, template) == (
        f"{PLAIN} {ABSTAIN_CLOSED_BOOK}\n\nExamples:\n\nQuestion: Q1?\nAnswer: A1\n\nQuestion: Q?"
    )


def _prompt_files() -> list[Path]:
    return sorted(PROMPT_DIR.glob("*.yaml"))


def test_the_prompt_group_has_the_four_templates():
    assert {f.stem for f in _prompt_files()} >= {"default", "span", "fewshot", "abstain"}


@pytest.mark.parametrize("path", _prompt_files(), ids=lambda p: p.stem)
def test_every_prompt_file_loads_into_prompt_config_under_its_own_name(path):
    merged = OmegaConf.merge(OmegaConf.structured(PromptConfig), OmegaConf.load(path))
    template = OmegaConf.to_object(merged)
    assert isinstance(template, PromptConfig)
    assert template.name == path.stem
    assert all(isinstance(s, Shot) for s in template.shots)
    assert user_message("Q?", [_passage(1, "P.")], template).endswith("Question: Q?")


def _load(stem: str) -> PromptConfig:
    cfg = OmegaConf.merge(
        OmegaConf.structured(PromptConfig), OmegaConf.load(PROMPT_DIR / f"{stem}.yaml")
    )
    return OmegaConf.to_object(cfg)


def test_the_default_file_gives_the_default_prompts():
    template = _load("default")
    assert template == PromptConfig()
    assert user_message("Q?", None, template) == user_message("Q?")


def test_the_abstain_file_abstains_and_the_fewshot_file_has_shots_with_context():
    assert _load("abstain").abstain is True
    assert _load("abstain").instruction == PromptConfig().instruction
    assert all(not _load(s).abstain for s in ("default", "span", "fewshot"))
    shots = _load("fewshot").shots
    assert len(shots) == 2 and all(s.question and s.answer and s.context for s in shots)


def test_abstain_answer_is_the_first_abstention_phrase_or_nothing():
    assert PromptBuilder(PlainTokenizer()).abstain_answer == "I don't know"
    custom = PromptConfig(abstain_phrases=["No idea", "I don't know"])
    assert PromptBuilder(PlainTokenizer(), template=custom).abstain_answer == "No idea"
    none = PromptConfig(abstain_phrases=[])
    assert PromptBuilder(PlainTokenizer(), template=none).abstain_answer == ""


# ---- the prompt budget: passages give way, never the template or the question -----------


class WordTokenizer:
    """One token per whitespace-separated word; no chat template (plain prompts)."""

    eos_token = "</s>"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def _budget_case():
    builder = PromptBuilder(WordTokenizer())
    passages = [_passage(r, f"passage{r} " + " ".join(f"w{r}x{i}" for i in range(20)))
                for r in (1, 2, 3)]  # fmt: skip
    return builder, passages, "Who founded the Society of Tronek?"


def test_a_prompt_within_budget_is_the_plain_prompt():
    builder, passages, q = _budget_case()
    assert builder.fitted(q, passages, 10_000) == (builder.prompt(q, passages), 0)
    assert builder.fitted(q, [], 5) == (builder.prompt(q, []), 0)


def test_lowest_ranked_passages_are_dropped_first():
    builder, passages, q = _budget_case()
    two = builder.n_tokens(builder.prompt(q, passages[:2]))
    text, cut = builder.fitted(q, passages, two)  # room for the best two exactly
    assert (text, cut) == (builder.prompt(q, passages[:2]), 1)
    text, cut = builder.fitted(q, passages, two - 1)
    assert (text, cut) == (builder.prompt(q, passages[:1]), 2)


def test_the_best_passage_alone_too_long_is_cut_never_the_question():
    builder, passages, q = _budget_case()
    bare = builder.n_tokens(builder.prompt(q, [passages[0]])) - 21  # the prompt less its words
    text, cut = builder.fitted(q, passages, bare + 5)
    assert cut == 3 and builder.n_tokens(text) == bare + 5  # five words of the best kept
    assert "passage1 w1x0 w1x1 w1x2 w1x3\n" in text and "w1x4" not in text
    assert "passage2" not in text and "passage3" not in text
    assert text.rstrip().endswith(f"Question: {q}\nAnswer:")
    assert builder.template.context_instruction.split()[0] in text  # still the RAG template
    closed, cut = builder.fitted(q, passages, 3)  # not even the question fits: all passages go
    assert (closed, cut) == (builder.prompt(q, []), 3)
