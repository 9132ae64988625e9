"""The one way tests run ragft as a user does, with the one tiny-model setting.

`TINY` is the override tuple every run.py-level test starts from: the tiny random Llama, no
logger, two fictional entities (8 eval questions: 2 documents x 4 facts) and 4 new tokens.
Two entities keep every cell fast on a 2-core machine; tests that need retrieval to *choose*
between documents ask for k=1 or check MRR (gold ranked first), so they stay meaningful.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N_ENTITIES = 2
FACTS_PER_ENTITY = 4  # the fictional knowledge base's attributes per entity
N_EVAL = N_ENTITIES * FACTS_PER_ENTITY  # eval questions of a TINY cell (one phrasing a fact)
TINY = (
    "model=tiny-llama",
    "logger=none",
    f"data.n_entities={N_ENTITIES}",
    "generation.max_new_tokens=4",
)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    out_dir: Path

    @property
    def results(self) -> dict:
        return json.loads((self.out_dir / "results.json").read_text())

    @property
    def predictions(self) -> list[dict]:
        lines = (self.out_dir / "predictions.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


def run_cmd(*overrides: str, tiny: bool = True) -> list[str]:
    """`python run.py [-m] TINY... OVERRIDES...` (Hydra wants its flags before overrides)."""
    flags = [o for o in overrides if o.startswith("-")]
    rest = [o for o in overrides if not o.startswith("-")]
    return [sys.executable, str(ROOT / "run.py"), *flags, *(TINY if tiny else ()), *rest]


def run_py(out_dir: Path, *overrides: str, tiny: bool = True, timeout: int = 600) -> Result:
    """`python run.py TINY... hydra.run.dir=OUT_DIR OVERRIDES...` in a subprocess."""
    proc = subprocess.run(
        run_cmd(f"hydra.run.dir={out_dir}", *overrides, tiny=tiny),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, out_dir)


def micro_llama():
    """A 1-layer random Llama (64-token vocabulary) built in memory: for tests of training
    mechanics that need no tokenizer (seeded, so every call gives the same weights)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def write_jsonl(path: Path, rows: list, newline: str = "\n", bom: bool = False) -> Path:
    """Rows (dicts, or lines as given) as a UTF-8 JSONL file, each line ended by `newline`."""
    text = newline.join(r if isinstance(r, str) else json.dumps(r) for r in rows) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def raises_exactly(message: str):
    """pytest.raises for a DataError whose whole message is `message`."""
    import pytest

    from ragft.errors import DataError

    return pytest.raises(DataError, match="^" + re.escape(message) + "$")


def kb_markdown(folder: Path, n_entities: int = 4) -> Path:
    """The fictional knowledge base's documents as Markdown files (facts known): a corpus
    folder for the generation tests."""
    from ragft.data import fictional_kb

    for d in fictional_kb.generate(n_entities, 2, 0, "heldout").corpus:
        (folder / f"{d.id}.md").write_text(f"# {d.title}\n\n{d.text}\n")
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_model_folder(cache_dir: Path) -> str:
    """The tiny random Llama as a saved HF folder (what `transformers serve` loads)."""
    from ragft import modeling
    from ragft.cache import Cache
    from ragft.config import ModelConfig, QuantConfig

    cfg = ModelConfig(name="tiny-llama", source="tiny-random")
    return modeling.load(cfg, QuantConfig(), Cache(cache_dir), seed=0).source.path


@contextlib.contextmanager
def transformers_serve(folder: str, log_path: Path, startup: float = 180.0):
    """transformers' own OpenAI-compatible server on 127.0.0.1 for `folder`; yields its /v1
    base URL once /health answers, stops it on exit. Its access log goes to `log_path`
    (one '"POST /v1/chat/completions HTTP/1.1" 200' line per answered request)."""
    import time
    import urllib.request

    port = free_port()
    log = open(log_path, "w")
    argv = [sys.executable, "-m", "transformers.cli.transformers", "serve", folder,
            "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup
        while True:
            assert server.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "transformers serve did not start"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def served_requests(log_path: Path) -> int:
    """Chat completions `transformers serve` answered, from its access log."""
    return log_path.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')
