"""Rules for the generation stage (data=generated, generate.py): backend, filters, split,
endpoint."""

from __future__ import annotations

from ragft.approaches import Approach
from ragft.config import DATAGEN_BACKENDS, DATAGEN_SPLITS, RunConfig
from ragft.validation.checks import (
    Problems,
    check,
    endpoint_problems,
    one_of,
    package_problems,
    positive,
)


def datagen_rule(run: RunConfig, approach: Approach | None) -> Problems:
    """Checked when the run generates its data (data=generated)."""
    if run.data.name != "generated":
        return []
    g = run.datagen
    p = one_of("datagen.backend", g.backend, DATAGEN_BACKENDS)
    p += one_of("datagen.split", g.split, DATAGEN_SPLITS)
    for key in ("per_type", "max_types", "max_answer_words", "max_field_chars", "batch_size"):
        p += positive(f"datagen.{key}", getattr(g, key))
    p += check(g.chunk_words >= 20, "datagen.chunk_words", g.chunk_words, ">= 20 words")
    if g.max_chunks is not None:
        p += positive("datagen.max_chunks", g.max_chunks)
    p += check(0 <= g.paraphrases <= 10, "datagen.paraphrases", g.paraphrases, "between 0 and 10")
    p += check(0.0 <= g.grounding <= 1.0, "datagen.grounding", g.grounding, "in [0, 1]")
    p += check(0.0 < g.eval_fraction < 1.0, "datagen.eval_fraction", g.eval_fraction, "in (0, 1)")
    p += check(
        0.0 < g.leak_threshold <= 1.0, "datagen.leak_threshold", g.leak_threshold, "in (0, 1]"
    )
    if g.near_duplicate is not None:
        p += check(
            0.0 < g.near_duplicate <= 1.0,
            "datagen.near_duplicate",
            g.near_duplicate,
            "in (0, 1], or null for exact duplicates only",
        )
    for key in ("price_per_1k_input", "price_per_1k_output"):
        value = getattr(g, key)
        if value is not None and value < 0:
            p.append(f"datagen.{key}={value} must be >= 0 (or null)")
    if g.backend in ("hf", "openai"):
        if not g.types:
            p.append(f"datagen.backend={g.backend} needs instruction types (datagen.types)")
        elif g.max_types > len(g.types):
            p.append(f"datagen.max_types={g.max_types} is more than the {len(g.types)} types")
    if g.embedder.package and not g.embedder.path:
        p += package_problems("datagen.embedder.package", g.embedder.package)
    if g.backend == "openai":
        p += endpoint_problems("datagen.endpoint", run.datagen.endpoint)
    return p
