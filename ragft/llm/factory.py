"""The one place a backend is built from config: the data generator (`datagen.backend_factory`)
and the judge (`ragft.judge`) both ask here.

`make_backend` returns a builder, not a backend: nothing is loaded or connected until it is
called, so a stage whose every request is journalled (or cached) never starts a model or
touches the network.
"""

from __future__ import annotations

from collections.abc import Callable

from ragft.cache import Cache
from ragft.config import EndpointConfig, ModelConfig, QuantConfig
from ragft.llm import Backend

KINDS = ("hf", "openai")
# what a local model's user can shorten when a prompt is over its input limit, by caller
TOO_LONG = {
    "datagen.endpoint": "lower datagen.chunk_words",
    "metrics.judge.endpoint": "give a judge that takes longer inputs (metrics.judge.path) "
    "or ask for shorter answers (generation.max_new_tokens)",
}


def make_backend(
    kind: str,
    endpoint: EndpointConfig,
    model: ModelConfig,
    quant: QuantConfig,
    cache: Cache,
    seed: int,
    batch_size: int,
    max_input_tokens: int,
    where: str,
) -> Callable[[], Backend]:
    """What builds the `kind` backend: `openai` talks to `endpoint` (its error messages name
    the config keys under `where`, e.g. "metrics.judge.endpoint"); `hf` loads `model` (with
    `quant`) through the cache, batched `batch_size` at a time, prompts up to
    `max_input_tokens` tokens."""
    if kind == "openai":
        e = endpoint

        def remote() -> Backend:
            from ragft.llm.endpoint import EndpointBackend

            return EndpointBackend(e.base_url, e.model, e.api_key_env, e.concurrency,
                                   e.max_retries, e.timeout, e.structured_output,
                                   e.max_tokens, config_prefix=where)  # fmt: skip

        return remote
    if kind == "hf":

        def local() -> Backend:
            from ragft import modeling
            from ragft.llm.hf import HFBackend

            loaded = modeling.load(model, quant, cache, seed=seed)
            modeling.prepare_tokenizer(loaded.tokenizer)
            return HFBackend(loaded.model, loaded.tokenizer, batch_size, max_input_tokens,
                             TOO_LONG.get(where, "shorten the prompts"))  # fmt: skip

        return local
    raise ValueError(f"no LLM backend {kind!r}; choose one of: {', '.join(KINDS)}")
