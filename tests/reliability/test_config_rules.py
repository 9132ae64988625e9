"""Config rules that need no subprocess: what an unset or sweep-wide objective means."""

from __future__ import annotations

import pytest

from ragft.config import ApproachConfig, RunConfig
from ragft.errors import ConfigError
from ragft.validation import validate


def cell(approach: str, objective: str | None = None) -> RunConfig:
    return RunConfig(objective=objective, approach=ApproachConfig(name=approach))


@pytest.mark.parametrize("approach", ["finetune", "hybrid", "raft", "base", "rag"])
def test_an_unset_objective_means_qa(approach):
    assert validate(cell(approach)).objective == "qa"


@pytest.mark.measures("bad_input")
@pytest.mark.parametrize("approach", ["base", "rag"])
def test_a_training_objective_for_an_approach_that_does_not_train(approach, tally):
    with pytest.raises(ConfigError, match=f"objective=cpt .* approach={approach} does not train"):
        validate(cell(approach, "cpt"))
    # in a sweep the objective is meant for the training cells: the others ignore it
    assert validate(cell(approach, "cpt"), in_sweep=True).objective == "qa"
    assert validate(cell("finetune", "cpt"), in_sweep=True).objective == "cpt"
    if approach == "rag":  # base with cpt is counted in test_bad_inputs already
        tally.bad_input()
