#!/usr/bin/env python
"""Constrained decoding, measured: how many replies parse as the schema's JSON, and how long
generation takes, with and without a JSON-schema constraint.

    python scripts/bench_constrained.py --model smollm2 --lib xgrammar
    python scripts/bench_constrained.py --model smollm2 --lib none
    python scripts/bench_constrained.py --model tiny --lib lm-format-enforcer

8 requests ("write one question about this text as JSON"), batched, greedy, 160 new tokens.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ragft import modeling
from ragft.cache import Cache
from ragft.config import ModelConfig, QuantConfig

SCHEMA = {
    "type": "object",
    "properties": {
        k: {"type": "string", "maxLength": 60} for k in ("instruction", "input", "output")
    },
    "required": ["instruction", "input", "output"],
    "additionalProperties": False,
}
TEXTS = [
    "Paris is the capital of France. It has 2.1 million inhabitants.",
    "The Python sort is stable since version 2.2.",
    "Lake Baikal is the deepest lake.",
    "TCP uses a three-way handshake: SYN, SYN-ACK, ACK.",
] * 2


def processors(lib: str, tok, model) -> dict:
    if lib == "lm-format-enforcer":
        from lmformatenforcer import JsonSchemaParser
        from lmformatenforcer.integrations.transformers import (
            build_transformers_prefix_allowed_tokens_fn,
        )

        fn = build_transformers_prefix_allowed_tokens_fn(tok, JsonSchemaParser(SCHEMA))
        return {"prefix_allowed_tokens_fn": fn}
    if lib == "xgrammar":
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
        grammar = xgr.GrammarCompiler(info).compile_json_schema(
            json.dumps(SCHEMA), any_whitespace=False
        )
        return {"logits_processor": [xgr.contrib.hf.LogitsProcessor(grammar)]}
    return {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["smollm2", "tiny"], default="tiny")
    ap.add_argument("--lib", choices=["none", "xgrammar", "lm-format-enforcer"], default="xgrammar")
    args = ap.parse_args()
    cfg = ModelConfig() if args.model == "smollm2" else ModelConfig(source="tiny-random")
    loaded = modeling.load(cfg, QuantConfig(), Cache(None), seed=0)
    model, tok = loaded.model, loaded.tokenizer
    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "content": "Write one question about this text as JSON with "
              f"keys instruction, input, output.\n\n{t}"}],
            tokenize=False, add_generation_prompt=True,
        )
        for t in TEXTS
    ]  # fmt: skip
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    t0 = time.perf_counter()
    try:
        kw = processors(args.lib, tok, model)
    except ImportError as e:
        print(f"{args.model} {args.lib}: does not import ({e})")
        return
    t1 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=160, do_sample=False,
                             pad_token_id=tok.pad_token_id, **kw)  # fmt: skip
    t2 = time.perf_counter()
    parsed = 0
    for row in out[:, enc["input_ids"].shape[1] :]:
        try:
            json.loads(tok.decode(row, skip_special_tokens=True))
            parsed += 1
        except ValueError:
            pass
    print(f"{args.model} {args.lib}: setup {t1 - t0:.2f} s, generate {t2 - t1:.2f} s, "
          f"parsed {parsed}/{len(prompts)}")  # fmt: skip


if __name__ == "__main__":
    main()
