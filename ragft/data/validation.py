"""A validation split of the training questions, for hyperparameter search.

Tuning on the eval questions is the classic mistake: the best trial's eval score is then an
optimistic estimate. With `data.evaluate_on=validation` a seeded share of the training
questions is held out of training and scored instead, and the eval questions are not used at
all; the search's best trial is then trained on all training questions and scored once on
the eval questions (`ragft/search.py`).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import replace

from ragft.types import Dataset

log = logging.getLogger(__name__)


def validation_split(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """`ds` with a seeded `fraction` of its training questions as the eval set.

    Phrasings of one fact (one `fact_id`) are never all held out, so that validation asks,
    as the fictional KB's eval split does, about facts the model was trained on; questions
    without a `fact_id` are held out as they are. When no fact has a second phrasing (one
    training phrasing each), whole facts are held out instead, with a warning: validation
    then asks about facts training never saw. At least one question is held out.
    """
    order = sorted(ds.train, key=lambda ex: ex.id)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(fraction * len(order)))
    held = _held_out(order, n_val, keep_a_phrasing=True)
    if not held and order:
        log.warning(
            "data.evaluate_on=validation: every fact has one training phrasing, so "
            "validation holds out whole facts (new knowledge, unlike the eval split)"
        )
        held = _held_out(order, n_val, keep_a_phrasing=False)
    train = tuple(ex for ex in ds.train if ex.id not in held)
    val = tuple(replace(ex, phrasing="validation") for ex in ds.train if ex.id in held)
    return replace(ds, train=train, eval=val)


def _held_out(order: list, n_val: int, keep_a_phrasing: bool) -> set[str]:
    left = Counter(ex.fact_id for ex in order if ex.fact_id)
    held: set[str] = set()
    for ex in order:
        if len(held) == n_val:
            break
        if keep_a_phrasing and ex.fact_id and left[ex.fact_id] < 2:
            continue  # the fact's last training phrasing stays in training
        held.add(ex.id)
        if ex.fact_id:
            left[ex.fact_id] -= 1
    return held
