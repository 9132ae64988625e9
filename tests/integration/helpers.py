"""Run run.py in a subprocess the way a user does."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ("model=tiny-llama", "logger=none", "data.n_entities=4", "generation.max_new_tokens=4")


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


def run_py(out_dir: Path, *overrides: str, tiny: bool = True, timeout: int = 600) -> Result:
    args = [*(TINY if tiny else ()), f"hydra.run.dir={out_dir}", *overrides]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, out_dir)
