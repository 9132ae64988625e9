"""Answers from a served model (`generation.backend=openai`): vLLM, TGI, `transformers serve`
or any OpenAI-compatible server that has the `/v1/completions` route.

The cell builds its prompts exactly as for a local model: the model config's tokenizer (loaded
alone, no weights), its chat template, the prompt budget. Each rendered prompt is sent as it
is (`llm.Request.prompt`), greedy (temperature 0), at most `generation.max_new_tokens` tokens,
`generation.endpoint.concurrency` requests at a time, through the `openai` client with its
retries (`ragft.llm.endpoint`); the answers are read and scored by the same code as local
answers. Every reply lands in a request journal (`journal_path`), so a re-run, or a second
cell asking the same prompt, sends nothing already answered. Cells that train cannot use it
(the served weights are not the cell's); `ragft.validation` says so before any work.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ragft.cache import Cache, hash_key
from ragft.config import EndpointConfig, ModelConfig
from ragft.generation import Generated, cost_figures
from ragft.progress import bar as progress_bar
from ragft.records import GenerationStats, LoadedModel, ModelInfo

JOURNAL_DIR = "served-journal"


def load(cfg: ModelConfig, endpoint: EndpointConfig, cache: Cache, seed: int = 0) -> LoadedModel:
    """The cell's model stage when a server answers: the tokenizer alone (prompts and their
    budget), and what identifies the served model (its URL and name) in place of weights."""
    from ragft import modeling

    t0 = time.perf_counter()
    tokenizer = modeling.load_tokenizer(cfg, cache, seed)
    served = {"base_url": endpoint.base_url, "model": endpoint.model}
    info = ModelInfo(fingerprint={"served": served}, model_cache_hit=False,
                     device=endpoint.base_url)  # fmt: skip
    return LoadedModel(None, tokenizer, info, round(time.perf_counter() - t0, 3))


def journal_path(cache_root: Path, endpoint: EndpointConfig) -> Path:
    """One journal per served model (URL and name): its replies are its own."""
    key = hash_key({"base_url": endpoint.base_url, "model": endpoint.model, "format": 1})
    return Path(cache_root) / JOURNAL_DIR / f"{key}.jsonl"


def generator(endpoint: EndpointConfig, max_new_tokens: int, journal: Path, progress: bool = True):
    """`prompts -> (outputs, stats)` through the endpoint, as `generation.local` does locally."""

    def generate(prompts: Sequence[str]) -> tuple[list[Generated], GenerationStats]:
        from ragft.llm import Request
        from ragft.llm.endpoint import EndpointBackend
        from ragft.llm.journal import Journal

        e = endpoint
        backend = EndpointBackend(e.base_url, e.model, e.api_key_env, e.concurrency,
                                  e.max_retries, e.timeout, structured_output=False,
                                  max_tokens=max_new_tokens,
                                  config_prefix="generation.endpoint")  # fmt: skip
        requests = [Request("", "", None, max_new_tokens, prompt=p) for p in prompts]
        t0 = time.perf_counter()
        bar = progress_bar(len(prompts), "generate (served)", "q", disable=not progress)
        replies, _, _ = Journal(journal).complete(backend, requests, lambda i, r: bar.update(1))
        bar.close()
        seconds = time.perf_counter() - t0
        outputs = [Generated(r.text, r.tokens_out, r.tokens_in) for r in replies]
        return outputs, cost_figures(outputs, seconds, e.concurrency)

    return generate
