"""The approaches as data, and the one rule for which sweep axes apply to which approach.

An approach is a small named record of flags on the same cell flow (see ARCHITECTURE.md).
`applies(axis, approach)` is the only place that says e.g. "a retriever means nothing to
`finetune`": the finished-cell cache identity (`config.cell_identity`) drops the config
slices that do not apply, and the report shows "–" for the same axes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Approach:
    name: str
    trains: bool  # fits an adapter (or full weights) before evaluation
    trains_with_context: bool  # training prompts carry retrieved passages (RAFT)
    retrieves: bool  # evaluation prompts carry retrieved passages


APPROACHES: dict[str, Approach] = {
    a.name: a
    for a in (
        Approach("base", trains=False, trains_with_context=False, retrieves=False),
        Approach("rag", trains=False, trains_with_context=False, retrieves=True),
        Approach("finetune", trains=True, trains_with_context=False, retrieves=False),
        Approach("hybrid", trains=True, trains_with_context=False, retrieves=True),
        Approach("raft", trains=True, trains_with_context=True, retrieves=True),
    )
}

# What an axis depends on: "training" axes apply to approaches that train, "retrieval" axes
# to approaches that retrieve (at eval or for RAFT's training prompts), "raft" axes to RAFT.
TRAINING, RETRIEVAL, RAFT = "training", "retrieval", "raft"

# The report's axes, in the order labels and tables show them, with what each depends on
# (None: every approach). Config slices use the same rule (`SLICE_KINDS`).
AXES: dict[str, str | None] = {
    "approach": None,
    "model": None,
    "data": None,
    "eval_split": None,
    "lora": TRAINING,
    "quant": None,
    "retriever": RETRIEVAL,
    "k": RETRIEVAL,
    "prompt": None,
    "n_train_phrasings": TRAINING,
    "seed": None,
}
# Config slices (top-level keys of the run config) that only some approaches use.
SLICE_KINDS: dict[str, str] = {
    "lora": TRAINING,
    "trainer": TRAINING,
    "objective": TRAINING,
    "retriever": RETRIEVAL,
}


def uses(approach: Approach, kind: str | None) -> bool:
    """Whether `approach` uses what axes of `kind` set (None: everything uses it)."""
    if kind is None:
        return True
    if kind == TRAINING:
        return approach.trains
    if kind == RETRIEVAL:
        return approach.retrieves or approach.trains_with_context
    if kind == RAFT:
        return approach.trains_with_context
    raise ValueError(f"unknown axis kind {kind!r}")


def applies(axis: str, approach: Approach | None) -> bool:
    """Whether report axis, config slice or dotted config key `axis` changes `approach`'s
    result ("trainer.learning_rate" is a training key, "approach.raft_gold_share" RAFT's).

    An unknown approach (None: a cell folder that names none) counts as using everything.
    """
    return approach is None or uses(approach, kind_of(axis))


def kind_of(axis: str) -> str | None:
    """What an axis, slice or dotted key depends on (TRAINING, RETRIEVAL, RAFT or None)."""
    if axis in AXES:
        return AXES[axis]
    if axis.startswith("approach.raft_"):
        return RAFT
    return SLICE_KINDS.get(axis.split(".")[0])
