"""Prompts: the user turn (passages best last, numbered), rendering with and without a chat
template, the completion a model is trained to produce, and reading its answer back.

The expected strings are written out by hand here, so a change to the wording, the order or
the numbering of a prompt fails a test (prompts are part of what a result means)."""

from __future__ import annotations

from ragft.prompting import completion, extract_answer, render, user_message
from ragft.types import Passage

PLAIN = "Answer the question with a short answer: a name, a place, a year or a few words."
WITH_CONTEXT = (
    "Use the context to answer the question with a short answer: "
    "a name, a place, a year or a few words."
)


def _passage(rank: int, text: str) -> Passage:
    return Passage(chunk_id=f"c{rank}", doc_id=f"d{rank}", text=text, score=1.0 / rank, rank=rank)


class ChatMLTokenizer:
    """A small stand-in for a tokenizer with a ChatML chat template (like SmolLM2's)."""

    chat_template = "chatml"
    eos_token = "<|endoftext|>"

    def __init__(self):
        self.calls: list[list[dict[str, str]]] = []

    def apply_chat_template(self, turns, tokenize=False, add_generation_prompt=False):
        assert tokenize is False
        self.calls.append([dict(t) for t in turns])
        text = "".join(f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


class PlainTokenizer:
    """A tokenizer without a chat template."""

    chat_template = None
    eos_token = "</s>"


class DriftingTokenizer(ChatMLTokenizer):
    """A template whose assistant turn does not extend its generation prompt."""

    def apply_chat_template(self, turns, tokenize=False, add_generation_prompt=False):
        text = "".join(f"[{t['role']}] {t['content']}\n" for t in turns)
        return text + ("[bot]" if add_generation_prompt else "")


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


# completion -----------------------------------------------------------------------------


def test_completion_ends_with_the_templates_end_of_turn_marker():
    tok = ChatMLTokenizer()
    assert completion(tok, "Hello?", "  Paris ") == "Paris<|im_end|>"
    # prompt + completion is exactly the template's rendering of the whole conversation
    full = tok.apply_chat_template(
        [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Paris"}]
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


# extract_answer -------------------------------------------------------------------------


def test_extract_answer_is_the_first_non_empty_line_trimmed():
    assert extract_answer("  Paris  ") == "Paris"
    assert extract_answer("\n\n   Oslo, Norway \nIt is the capital.\n") == "Oslo, Norway"
    assert extract_answer("first\n\nsecond") == "first"
    assert extract_answer("") == ""
    assert extract_answer(" \n\t\n ") == ""
