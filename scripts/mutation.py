"""Mutation testing of the pure modules: `python scripts/mutation.py [MUTANT_GLOB ...]`.

Runs mutmut (configured in pyproject.toml's [tool.mutmut]: which modules, which in-process
tests) and prints the score: the share of mutants the tests kill. A timeout counts as killed
(the mutant made the code loop); "no tests" and survivors count against the score. Survivors
are listed; tests/README.md names the ones that are equivalent and why.

Torch, faiss and the tokenizers start thread pools; a mutmut worker forked while one is busy
waits forever, so every pool is held to one thread here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mutants", nargs="*", help='mutant names or globs, e.g. "ragft.metrics.*"')
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", **dict.fromkeys(ONE_THREAD, "1"))
    run = ["mutmut", "run", "--max-children", str(args.max_children), *args.mutants]
    code = subprocess.run(run, cwd=ROOT, env=env).returncode
    if code != 0:
        return code
    subprocess.run(["mutmut", "export-cicd-stats"], cwd=ROOT, env=env, check=True)
    stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text())
    print(score_line(stats))
    survivors = subprocess.run(
        ["mutmut", "results"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout
    print(survivors.strip() or "no surviving mutants")
    return 0


def score_line(stats: dict) -> str:
    """`killed K of N mutants (S%)` with the other outcomes, from mutmut's cicd stats."""
    killed = stats["killed"] + stats["timeout"]
    total = stats["total"] - stats.get("skipped", 0)
    share = 100.0 * killed / total if total else 0.0
    return (
        f"mutation score: {killed} of {total} mutants killed ({share:.1f}%); "
        f"{stats['survived']} survived, {stats['no_tests']} with no tests, "
        f"{stats['timeout']} of the killed by timeout, "
        f"{stats.get('segfault', 0) + stats.get('suspicious', 0)} crashed or suspicious"
    )


if __name__ == "__main__":
    sys.exit(main())
