#!/usr/bin/env python
"""Measure the question generators on documents whose facts are known.

    python scripts/datagen_measure.py --backend extractive
    python scripts/datagen_measure.py --backend hf            # the embedded SmolLM2

Generates from the fictional knowledge base's documents (`--entities` people, 4 facts each),
with the given backend and `datagen.*` settings, and prints one Markdown table row:

- facts covered: the share of the KB's facts asked by at least one kept question (a kept
  record of the fact's document whose answer matches the fact's answer: token F1 >= 0.5);
- answers that are KB facts: the share of kept records whose answer matches one of their
  document's KB facts (F1 >= 0.5); the rest ask about other details of the text, which are
  grounded (the filters checked) but not among the facts the KB knows;
- kept / raw records, the drops per filter, train / eval sizes, requests and seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ragft.cache import Cache
from ragft.config import DatagenConfig, ModelConfig, QuantConfig
from ragft.data import fictional_kb
from ragft.datagen import backend_factory, run
from ragft.llm.journal import Journal
from ragft.metrics import f1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="extractive", choices=["extractive", "hf"])
    ap.add_argument("--entities", type=int, default=8)
    ap.add_argument("--per-type", type=int, default=2)
    ap.add_argument("--max-types", type=int, default=3)
    ap.add_argument("--max-field-chars", type=int, default=300)
    ap.add_argument("--paraphrases", type=int, default=None,
                    help="default: 0 for extractive, 1 for hf (conf/datagen/*.yaml)")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--cache", type=Path, help="cache folder (default: a new empty one); "
                    "its request journal lets a re-run resume")  # fmt: skip
    args = ap.parse_args()

    import yaml

    types = yaml.safe_load((Path(__file__).parent.parent / "conf/datagen/types/default.yaml")
                           .read_text())  # fmt: skip
    cfg = DatagenConfig(backend=args.backend, types=types, per_type=args.per_type,
                        max_types=args.max_types, max_field_chars=args.max_field_chars,
                        paraphrases=args.paraphrases if args.paraphrases is not None
                        else int(args.backend != "extractive"))  # fmt: skip
    ds = fictional_kb.generate(args.entities, 2, 0, "heldout")
    facts = defaultdict(list)  # doc id -> its facts' answers
    for ex in ds.eval:
        facts[ex.gold_doc_ids[0]].append(ex.answers[0])

    cache = Cache(args.cache or tempfile.mkdtemp(prefix="ragft-datagen-measure-"))
    print(f"cache: {cache.root}", flush=True)
    make = backend_factory(cfg, ModelConfig(), QuantConfig(), cache, 0)
    t0 = time.perf_counter()
    backend = make() if make else None
    journal = Journal(cache.root / "journal.jsonl")
    train, held, stats = run(ds.corpus, cfg, backend, journal, seed=0)
    seconds = time.perf_counter() - t0

    kept = train + held
    covered = sum(
        any(r.doc_id == doc and f1(r.output, [answer]) >= 0.5 for r in kept)
        for doc, answers in facts.items()
        for answer in answers
    )
    n_facts = sum(len(a) for a in facts.values())
    is_fact = sum(any(f1(r.output, [a]) >= 0.5 for a in facts[r.doc_id]) for r in kept)
    row = {
        "backend": args.backend,
        "documents": len(ds.corpus),
        "kb_facts": n_facts,
        "facts_covered": round(covered / n_facts, 3),
        "answers_that_are_kb_facts": round(is_fact / max(len(kept), 1), 3),
        "raw_records": stats["raw_records"],
        "kept_records": len(kept),
        "train": len(train),
        "eval": len(held),
        "dropped": stats["dropped"],
        "requests": stats["cost"]["requests"],
        "tokens_out": stats["cost"]["tokens_out"],
        "seconds": round(seconds, 1),
    }
    print(json.dumps(row, indent=1))
    if args.json:
        args.json.write_text(json.dumps(row, indent=1) + "\n")
    samples = [f"  {r.type}: {r.question!r} -> {r.output!r}" for r in kept[:12]]
    print("\n".join(samples))


if __name__ == "__main__":
    main()
