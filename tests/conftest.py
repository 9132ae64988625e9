"""Test-wide settings: offline, and one cache folder for the whole session.

The cache is a fresh temporary folder per session (so tests see cold builds), unless
RAGFT_TEST_CACHE_DIR names one to reuse between local runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["WANDB_SILENT"] = "true"
    os.environ.pop("WANDB_API_KEY", None)
    os.environ["NETRC"] = os.devnull  # a stored `wandb login` would make runs online
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    cache = os.environ.get("RAGFT_TEST_CACHE_DIR") or tempfile.mkdtemp(prefix="ragft-test-cache-")
    os.environ["RAGFT_CACHE_DIR"] = cache


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
