"""Prompts: pure functions from questions (and passages) to text. No model is touched.

The same functions build the prompts for evaluation and for training (fine-tuning trains on
exactly the text it is later asked), so the two can never drift apart. The wording is the
`prompt` config group (`conf/prompt/`: default, span, fewshot, abstain), a `PromptConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ragft.config_llm import PromptConfig  # not ragft.config: training workers never load Hydra
from ragft.types import Passage

DEFAULT = PromptConfig()
INSTRUCTION = DEFAULT.instruction
CONTEXT_INSTRUCTION = DEFAULT.context_instruction


def instruction(template: PromptConfig, with_context: bool) -> str:
    """The instruction line: the context one when passages are shown, plus the abstain rule."""
    text = template.context_instruction if with_context else template.instruction
    if template.abstain:
        rule = template.abstain_instruction if with_context else template.abstain_closed_book
        text = f"{text} {rule}"
    return text


def _context(texts: Sequence[str]) -> str:
    return "\n\n".join(f"[{i}] {t.strip()}" for i, t in enumerate(texts, 1))


def _shots(template: PromptConfig, with_context: bool) -> str:
    """The worked examples, each as the question will be asked (with its context if any)."""
    blocks = []
    for shot in template.shots:
        head = f"Context:\n{_context([shot.context])}\n" if with_context and shot.context else ""
        blocks.append(f"{head}Question: {shot.question.strip()}\nAnswer: {shot.answer.strip()}")
    return "Examples:\n\n" + "\n\n".join(blocks) if blocks else ""


def user_message(
    question: str,
    passages: Sequence[Passage] | None = None,
    template: PromptConfig = DEFAULT,
) -> str:
    """The user turn: instruction, worked examples, numbered passages when given, the question.

    Passages come best first; they are listed best *last*, next to the question, because
    small models attend most to the nearest text (the measured difference is in
    experiments/compare-default/README.md, "Prompt order").
    """
    with_context = bool(passages)
    parts = [instruction(template, with_context)]
    shots = _shots(template, with_context)
    if shots:
        parts.append(shots)
    if with_context:
        ordered = [p.text for p in reversed(passages)]
        parts.append(f"Context:\n{_context(ordered)}")
    parts.append(f"Question: {question.strip()}")
    return "\n\n".join(parts)


def render(
    tokenizer,
    message: str,
    *,
    chat_template: bool = True,
    system_prompt: str | None = None,
) -> str:
    """The full prompt text: the tokenizer's chat template when it has one, else plain."""
    if chat_template and getattr(tokenizer, "chat_template", None):
        turns = _turns(message, system_prompt)
        return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    return f"{message}\nAnswer:"


def _turns(message: str, system_prompt: str | None) -> list[dict[str, str]]:
    turns = [{"role": "system", "content": system_prompt}] if system_prompt else []
    turns.append({"role": "user", "content": message})
    return turns


def completion(
    tokenizer,
    message: str,
    answer: str,
    *,
    chat_template: bool = True,
    system_prompt: str | None = None,
) -> str:
    """The text a model should produce after `render(...)`: the answer and its end marker.

    With a chat template, this is the template's own rendering of the assistant turn (so the
    end-of-turn marker is the model's, e.g. <|im_end|> or <|eot_id|>); without one, the
    answer followed by the EOS token.
    """
    answer = answer.strip()
    eos = tokenizer.eos_token or ""
    templated = chat_template and getattr(tokenizer, "chat_template", None)
    if templated:
        prompt = render(tokenizer, message, system_prompt=system_prompt)
        turns = _turns(message, system_prompt)
        turns.append({"role": "assistant", "content": answer})
        full = tokenizer.apply_chat_template(turns, tokenize=False)
        if full.startswith(prompt) and answer in full[len(prompt) :]:
            return full[len(prompt) :].rstrip("\n")
    # the plain prompt ends in "Answer:" (also when the tokenizer has no template to use)
    return f"{answer}{eos}" if templated else f" {answer}{eos}"


def extract_answer(text: str) -> str:
    """The model's answer: its first non-empty line, trimmed."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True)
class PromptBuilder:
    """The one way a cell turns questions into prompt text, for evaluation and training alike.

    Binds the tokenizer (its chat template) and the model config's template settings, so
    eval prompts, training prompts and training targets all come from the same functions.
    """

    tokenizer: Any
    chat_template: bool = True
    system_prompt: str | None = None
    template: PromptConfig = field(default_factory=PromptConfig)

    def render(self, message: str) -> str:
        """The full prompt for a user message."""
        return render(
            self.tokenizer,
            message,
            chat_template=self.chat_template,
            system_prompt=self.system_prompt,
        )

    def complete(self, message: str, answer: str) -> str:
        """The training target after `render(message)`: the answer and its end marker."""
        return completion(
            self.tokenizer,
            message,
            answer,
            chat_template=self.chat_template,
            system_prompt=self.system_prompt,
        )

    def message(self, question: str, passages: Sequence[Passage] | None = None) -> str:
        """The user turn for a question (and its passages), in this builder's template."""
        return user_message(question, passages, self.template)

    def prompt(self, question: str, passages: Sequence[Passage] | None = None) -> str:
        """The full prompt for a question (and its passages)."""
        return self.render(self.message(question, passages))

    def fitted(
        self, question: str, passages: Sequence[Passage] | None, max_tokens: int
    ) -> tuple[str, int]:
        """The prompt within `max_tokens`, and how many passages were dropped or cut for it.

        The lowest-ranked passages go first; when the best one alone is still too long, its
        end is cut (by words). The template and the question are never cut (a prompt that
        is too long without any passage is left to the generator's own truncation).
        """
        kept = list(passages or ())
        text = self.prompt(question, kept)
        cut = 0
        while kept and self.n_tokens(text) > max_tokens:
            if len(kept) > 1:
                kept.pop()
            else:
                kept = self._cut_to_fit(question, kept[0], max_tokens)
            cut += 1
            text = self.prompt(question, kept)
        return text, cut

    def _cut_to_fit(self, question: str, best: Passage, max_tokens: int) -> list[Passage]:
        """The passage's longest start (in words) that fits, found by bisection; [] if none."""
        words = best.text.split()
        lo, hi = 0, len(words) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            part = replace(best, text=" ".join(words[:mid]))
            if self.n_tokens(self.prompt(question, [part])) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return [replace(best, text=" ".join(words[:lo]))] if lo else []

    def n_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def abstain_answer(self) -> str:
        """What a model trained to abstain is taught to say: the first abstention phrase."""
        return self.template.abstain_phrases[0] if self.template.abstain_phrases else ""

    @property
    def end_of_text(self) -> str:
        return self.tokenizer.eos_token or ""
