"""ragft generate: documents -> a QA and instruction set to inspect, edit, and study.

    python generate.py data.corpus_path=my/docs/                      # rule-based, offline
    python generate.py data.corpus_path=my/docs/ datagen=hf           # the embedded SmolLM2
    python generate.py data.corpus_path=my/docs/ datagen=openai \\
        datagen.endpoint.base_url=http://127.0.0.1:8000/v1 datagen.endpoint.model=NAME

Writes qa.jsonl (data=qa-jsonl reads it), alpaca.jsonl (data=alpaca-jsonl), stats.json and
generation_report.md into hydra.run.dir (generated/<date>/<time>/ by default). The set is
cached like data=generated's, so `run.py data=generated` on the same documents and settings
reuses it, and a killed run resumes without repeating a request.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ragft import config, datagen, validation
from ragft.cache import Cache
from ragft.data.corpus import load_corpus
from ragft.errors import RagftError

log = logging.getLogger("ragft")
config.register()


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        hit = generate(cfg, out)
    except RagftError as e:
        print(f"ragft: error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    counts = (out / "stats.json").read_text()
    print(f"ragft: {'cached' if hit else 'generated'} set -> {out}/qa.jsonl, alpaca.jsonl, "
          f"generation_report.md\n{counts}", flush=True)  # fmt: skip


def generate(cfg: DictConfig, out: Path) -> bool:
    """Generate (or find in the cache) the set `cfg` describes, copy its files to `out`;
    return whether it was cached."""
    run = validation.validate(cfg)
    cache = Cache(run.cache.dir)
    corpus = load_corpus(run.data.corpus_path)
    ident = datagen.identity(corpus, run.datagen, run.model, run.quant, run.data.seed)
    make = datagen.backend_factory(run.datagen, run.model, run.quant, cache, run.seed)
    entry, hit = datagen.build(corpus, run.datagen, make, cache, ident)
    out.mkdir(parents=True, exist_ok=True)
    for name in datagen.FILES:
        shutil.copyfile(entry / name, out / name)
    log.info("%s set from %d documents (%s)", run.datagen.backend, len(corpus),
             "cached" if hit else "generated")  # fmt: skip
    return hit


if __name__ == "__main__":
    main()
