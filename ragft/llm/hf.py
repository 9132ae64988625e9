"""A local transformers model as a backend: batched greedy decoding, JSON-schema-constrained.

Constraining uses xgrammar (its transformers logits processor): at each step only tokens that
keep the output a prefix of a schema-valid JSON document are allowed, and once the document
is complete only a stop token is. So every reply parses, even from a random model, provided
`max_tokens` leaves room to close the document: schemas here bound every string
(`maxLength`) and array (`maxItems`), and whitespace between tokens is not free.
lm-format-enforcer, the other candidate, does not import under transformers 5; outlines
brings its own model wrappers. experiments/datagen/README.md has the measurement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ragft.llm import LLMError, Reply, Request, parse_reply


class HFBackend:
    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 8,
        max_input_tokens: int = 2048,
        too_long_hint: str = "lower datagen.chunk_words",  # what the user can shorten
    ):
        self.model, self.tokenizer = model, tokenizer
        self.too_long_hint = too_long_hint
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self._compiler = None
        self._grammars: dict[str, object] = {}

    def _prompt(self, request: Request) -> str:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(
                request.messages(), tokenize=False, add_generation_prompt=True
            )
        head = f"{request.system}\n\n" if request.system else ""
        return f"{head}{request.user}\n"

    def _check_lengths(self, prompts: list[str]) -> None:
        """A prompt over the input limit would lose its start (the text): refuse, do not cut."""
        ids = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        longest = max((len(x) for x in ids), default=0)
        if longest > self.max_input_tokens:
            raise LLMError(
                f"a generation prompt of {longest} tokens is longer than the model's input "
                f"limit of {self.max_input_tokens}; {self.too_long_hint}"
            )

    def _constrain(self, schema: dict) -> Callable[[list[int]], list]:
        import xgrammar as xgr

        key = json.dumps(schema, sort_keys=True)

        def make(stop_ids: list[int]) -> list:
            if self._compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(
                    self.tokenizer,
                    vocab_size=self.model.config.vocab_size,
                    stop_token_ids=stop_ids,
                )
                self._compiler = xgr.GrammarCompiler(info)
            if key not in self._grammars:
                self._grammars[key] = self._compiler.compile_json_schema(key, any_whitespace=False)
            return [xgr.contrib.hf.LogitsProcessor(self._grammars[key])]

        return make

    def complete(
        self, requests: Sequence[Request], on_reply: Callable[[int, Reply], None] | None = None
    ) -> list[Reply]:
        from ragft.generation import generate

        replies: list[Reply | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}  # one generate call per (schema, max_tokens)
        for i, r in enumerate(requests):
            key = (json.dumps(r.schema, sort_keys=True), r.max_tokens)
            groups.setdefault(key, []).append(i)
        prompts = [self._prompt(r) for r in requests]
        self._check_lengths(prompts)
        for (_, max_tokens), idx in groups.items():
            schema = requests[idx[0]].schema
            # one generate call per batch, so each batch's replies reach the journal (on_reply)
            # before the next batch starts
            for start in range(0, len(idx), self.batch_size):
                part = idx[start : start + self.batch_size]
                outputs, _ = generate(
                    self.model,
                    self.tokenizer,
                    [prompts[i] for i in part],
                    max_new_tokens=max_tokens,
                    batch_size=self.batch_size,
                    max_input_tokens=self.max_input_tokens,
                    progress=False,
                    constrain=self._constrain(schema) if schema is not None else None,
                )
                for i, out in zip(part, outputs, strict=True):
                    replies[i] = parse_reply(out.text, schema, out.prompt_tokens, out.new_tokens)
                    if on_reply is not None:
                        on_reply(i, replies[i])
        return [r for r in replies if r is not None]
