"""The approaches' flags and the one rule of which axes apply, checked against the table
in DESIGN.md written out by hand."""

from __future__ import annotations

import pytest

from ragft.approaches import APPROACHES, AXES, SLICE_KINDS, Approach, applies, uses

# approach: (trains, trains with retrieved context, retrieves at eval) -- DESIGN.md's table
FLAGS = {
    "base": (False, False, False),
    "rag": (False, False, True),
    "finetune": (True, False, False),
    "hybrid": (True, False, True),
    "raft": (True, True, True),
}
# axis or config slice: the approaches whose result it changes
TRAINERS = {"finetune", "hybrid", "raft"}
RETRIEVERS = {"rag", "hybrid", "raft"}
EVERYONE = set(FLAGS)
APPLIES = {
    "approach": EVERYONE,
    "model": EVERYONE,
    "data": EVERYONE,
    "eval_split": EVERYONE,
    "quant": EVERYONE,
    "seed": EVERYONE,
    "prompt": EVERYONE,
    "lora": TRAINERS,
    "n_train_phrasings": TRAINERS,
    "trainer": TRAINERS,
    "objective": TRAINERS,
    "retriever": RETRIEVERS,
    "k": RETRIEVERS,
}


def test_exactly_the_five_approaches_with_their_flags():
    assert set(APPROACHES) == set(FLAGS)
    for name, (trains, with_context, retrieves) in FLAGS.items():
        a = APPROACHES[name]
        assert a.name == name
        assert (a.trains, a.trains_with_context, a.retrieves) == (trains, with_context, retrieves)


@pytest.mark.parametrize("axis", sorted(APPLIES))
def test_applies_table(axis):
    got = {name for name in FLAGS if applies(axis, APPROACHES[name])}
    assert got == APPLIES[axis], axis


def test_the_table_covers_every_axis_and_slice():
    assert set(AXES) | set(SLICE_KINDS) == set(APPLIES)


def test_an_unknown_approach_uses_everything_and_an_unknown_axis_applies_to_all():
    assert all(applies(axis, None) for axis in APPLIES)
    assert all(applies("generation", APPROACHES[name]) for name in FLAGS)


def test_training_with_context_alone_counts_as_using_the_retriever():
    # RAFT-style training without retrieval at eval still needs the retriever's passages
    a = Approach("raft-closed-book", trains=True, trains_with_context=True, retrieves=False)
    assert applies("retriever", a) and applies("k", a)
    assert uses(a, "raft")


def test_raft_axes_apply_to_raft_only():
    assert {name for name in FLAGS if uses(APPROACHES[name], "raft")} == {"raft"}


def test_an_unknown_axis_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown axis kind 'bogus'"):
        uses(APPROACHES["base"], "bogus")
