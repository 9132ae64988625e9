"""A validation split of the training questions, for hyperparameter search.

Tuning on the eval questions is the classic mistake: the best trial's eval score is then an
optimistic estimate. With `data.evaluate_on=validation` a seeded share of the training
questions is held out of training and scored instead, and the eval questions are not used at
all; the search's best trial is then trained on all training questions and scored once on
the eval questions (`ragft/search.py`).
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

from ragft.types import Dataset


def validation_split(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """`ds` with a seeded `fraction` of its training questions as the eval set.

    Phrasings of one fact (one `fact_id`) are never all held out, so that validation asks,
    as the fictional KB's eval split does, about facts the model was trained on; questions
    without a `fact_id` are held out as they are. At least one question is held out.
    """
    order = sorted(ds.train, key=lambda ex: ex.id)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(fraction * len(order)))
    left = Counter(ex.fact_id for ex in order if ex.fact_id)
    held: set[str] = set()
    for ex in order:
        if len(held) == n_val:
            break
        if ex.fact_id and left[ex.fact_id] < 2:
            continue  # the fact's last training phrasing stays in training
        held.add(ex.id)
        if ex.fact_id:
            left[ex.fact_id] -= 1
    train = tuple(ex for ex in ds.train if ex.id not in held)
    val = tuple(dataclasses.replace(ex, phrasing="validation") for ex in ds.train if ex.id in held)
    return dataclasses.replace(ds, train=train, eval=val)
