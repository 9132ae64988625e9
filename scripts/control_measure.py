"""Build the shipped control set: keep the candidate questions the embedded base model
answers correctly, closed-book, with the default prompt (the way a `base` cell asks).

    python scripts/control_measure.py                       # SmolLM2-135M-Instruct
    python scripts/control_measure.py --out /tmp/c.jsonl    # somewhere else

Reads experiments/control/candidates.jsonl, writes ragft/data/control.jsonl and prints the
candidates' score; experiments/control/README.md records a run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ragft import answering, control, generation, modeling, prompting  # noqa: E402
from ragft.cache import Cache  # noqa: E402
from ragft.config import GenerationConfig, ModelConfig, PromptConfig, QuantConfig  # noqa: E402
from ragft.metrics import contains  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", default=str(ROOT / "experiments/control/candidates.jsonl"))
    ap.add_argument("--out", default=str(control.SHIPPED))
    args = ap.parse_args()

    questions = control.load_set(args.candidates)
    gen, model_cfg = GenerationConfig(), ModelConfig()
    loaded = modeling.load(model_cfg, QuantConfig(), Cache(), seed=0)
    prompts = prompting.PromptBuilder(loaded.tokenizer, template=PromptConfig())
    t0 = time.perf_counter()
    local = answering.local(
        loaded.model, loaded.tokenizer, max_new_tokens=gen.max_new_tokens,
        batch_size=gen.batch_size, max_input_tokens=model_cfg.max_input_tokens,
    )  # fmt: skip
    preds, _, _ = generation.answer(
        local, prompts.fitted, questions, [()] * len(questions), model_cfg.max_input_tokens
    )
    seconds = time.perf_counter() - t0
    kept = [p for p in preds if contains(p.answer, p.example.answers) == 1.0]
    with open(args.out, "w", encoding="utf-8") as f:
        for p in kept:
            row = {"id": p.example.id.removeprefix("control/"), "question": p.example.question,
                   "answers": list(p.example.answers)}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    print(f"{model_cfg.name}: {len(kept)} of {len(preds)} candidates answered correctly "
          f"({100 * len(kept) / len(preds):.1f}%) in {seconds:.1f} s -> {args.out}")  # fmt: skip
    for p in preds:
        mark = "+" if p in kept else "-"
        print(f"  {mark} {p.example.question} -> {p.answer!r}")


if __name__ == "__main__":
    main()
