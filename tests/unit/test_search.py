"""ragft.search: Hydra sweep syntax -> Optuna distributions, the ask-and-tell loop (bounded,
failures counted), resuming a study an interruption left a trial RUNNING in, and the best
trial's eval job; plus the validation split the trials score and the report's search section."""

from __future__ import annotations

import json
from collections import Counter

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ragft import search
from ragft.data import fictional_kb
from ragft.data.validation import validation_split
from ragft.report import search as report_search

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_search_space_maps_hydra_sweeps_to_optuna_distributions():
    space = search.search_space(
        {
            "trainer.learning_rate": "tag(log, interval(1e-4, 1e-2))",
            "lora.r": "choice(4, 8, 16)",
            "trainer.max_epochs": "range(2, 7)",
            "lora.alpha": "16",
        },
        ["lora.r=4,8", "model=tiny-llama", "lora.dropout=tag(int, interval(1, 9))"],
    )
    d = space.distributions
    assert d["trainer.learning_rate"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert d["lora.r"] == CategoricalDistribution([4, 8])  # the command line wins
    assert d["trainer.max_epochs"] == IntDistribution(2, 6)  # range's end is exclusive
    assert d["lora.dropout"] == IntDistribution(1, 9)
    assert sorted(space.fixed) == ["lora.alpha=16", "model=tiny-llama"]


def test_overrides_of_keeps_floats_exact():
    (text,) = search.overrides_of({"trainer.learning_rate": 0.00375619614449984})
    assert text == "trainer.learning_rate=0.00375619614449984"
    assert float(text.split("=")[1]) == 0.00375619614449984
    assert search.overrides_of({"lora.r": 8, "retriever": "bm25"}) == ["lora.r=8", "retriever=bm25"]


def _space() -> search.Space:
    return search.Space(
        ("model=tiny-llama",),
        {"lora.r": CategoricalDistribution([4, 8, 16]), "x": FloatDistribution(0.0, 1.0)},
    )


def test_run_trials_launches_until_n_trials_have_finished_and_counts_failures(tmp_path):
    study = search.open_study(tmp_path, "s", None, "maximize", seed=0)
    launched = []

    def launch(jobs, first):
        launched.append((first, jobs))
        return [None if len(launched) == 2 else 0.5 for _ in jobs]  # the second launch fails

    assert search.run_trials(study, _space(), 4, 1, launch) == 4
    assert [first for first, _ in launched] == [0, 1, 2, 3]  # job number = trial number
    assert all(job[0] == "model=tiny-llama" and len(job) == 3 for _, (job,) in launched)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert search.run_trials(study, _space(), 4, 1, launch) == 0  # nothing left: no launch
    # every trial failing still ends: failures count towards n_trials
    other = search.open_study(tmp_path, "t", None, "maximize", seed=0)
    assert search.run_trials(other, _space(), 3, 2, lambda jobs, first: [None] * len(jobs)) == 3


def test_open_study_resumes_and_asks_an_interrupted_trial_again(tmp_path):
    study = search.open_study(tmp_path, "s", None, "maximize", seed=0)
    search.run_trials(study, _space(), 2, 1, lambda jobs, first: [0.1] * len(jobs))
    running = study.ask(_space().distributions)  # a killed run leaves this one RUNNING
    again = search.open_study(tmp_path, "s", None, "maximize", seed=0)
    assert (tmp_path / "optuna.db").is_file()
    assert again.trials[running.number].state.name == "FAIL"
    assert again.trials[running.number].user_attrs[search.INTERRUPTED] is True
    assert search.n_finished(again) == 2  # the interrupted trial does not count
    asked = []
    search.run_trials(again, _space(), 3, 1, lambda jobs, first: asked.append(jobs[0]) or [0.2])
    assert asked == [["model=tiny-llama", *search.overrides_of(running.params)]]
    resumed = search.open_study(tmp_path, "s", None, "maximize", seed=0)
    search.run_trials(resumed, _space(), 4, 1, lambda jobs, first: [0.3])
    firsts = [t.params for t in study.trials[:2]]
    assert resumed.trials[-1].params not in firsts  # not the first proposals once more


def test_evaluate_best_scores_the_best_settings_once_on_eval(tmp_path):
    study = search.open_study(tmp_path, "s", None, "maximize", seed=0)
    assert search.evaluate_best(study, _space(), lambda j, f: [1.0], "data.evaluate_on") is None
    scores = iter([0.2, 0.9, 0.4])
    search.run_trials(study, _space(), 3, 1, lambda jobs, first: [next(scores)])
    jobs = []
    best = search.evaluate_best(
        study, _space(), lambda j, f: jobs.append((j, f)) or [0.7], "data.evaluate_on"
    )
    ((job,), first) = jobs[0]
    assert first == 3 and job[-2:] == ["data.evaluate_on=eval", "hydra.sweep.subdir=best-eval"]
    assert job[1:-2] == search.overrides_of(study.trials[1].params)
    assert best == {
        "trial": 1,
        "params": study.trials[1].params,
        "validation_score": 0.9,
        "eval_score": 0.7,
        "folder": "best-eval",
    }
    path = search.record(tmp_path, study, 3, best)
    doc = json.loads(path.read_text())
    assert [t["value"] for t in doc["trials"]] == [0.2, 0.9, 0.4] and doc["best"] == best
    line = search.summary_line(best, "contains")
    assert "validation contains 0.9" in line and "eval contains 0.7" in line
    assert "no trial completed" in search.summary_line(None)

    lines = "\n".join(report_search.search_lines(report_search.read_search(tmp_path), "contains"))
    assert "**70.0%** (validation: 90.0%)" in lines
    table = [x for x in lines.splitlines() if x.startswith("| ") and x[2].isdigit()]
    assert [x.split("|")[3].strip() for x in table] == ["90.0%", "40.0%", "20.0%"]  # best first
    assert report_search.read_search(tmp_path / "nowhere") is None


def test_validation_split_holds_out_training_phrasings_never_a_whole_fact():
    ds = fictional_kb.generate(8, 2, 0, "heldout", 0)
    v = validation_split(ds, 0.25, seed=3)
    assert len(v.eval) == 16 and len(v.train) == 48
    assert {ex.id for ex in v.eval}.isdisjoint(ex.id for ex in v.train)
    assert {ex.id for ex in v.eval} | {ex.id for ex in v.train} == {ex.id for ex in ds.train}
    assert set(Counter(ex.fact_id for ex in v.train)) == {ex.fact_id for ex in ds.train}
    assert all(ex.phrasing == "validation" for ex in v.eval)
    assert validation_split(ds, 0.25, seed=3) == v  # seeded
    assert validation_split(ds, 0.25, seed=4).eval != v.eval
    one = fictional_kb.generate(2, 1, 0, "heldout", 0)  # one phrasing per fact: whole facts
    v = validation_split(one, 0.5, seed=0)
    assert len(v.eval) == 4 and len(v.train) == 4
    assert {ex.fact_id for ex in v.eval}.isdisjoint(ex.fact_id for ex in v.train)


def test_validation_split_of_questions_without_fact_ids():
    ds = fictional_kb.generate(4, 1, 0, "heldout", 0)
    plain = ds.__class__(
        ds.corpus, tuple(ex.__class__(ex.id, ex.question, ex.answers) for ex in ds.train), ds.eval
    )
    v = validation_split(plain, 0.25, seed=0)
    assert len(v.eval) == 4 and len(v.train) == 12


@pytest.mark.parametrize("key,value", [("evaluate_on", "test"), ("validation_fraction", 1.0)])
def test_validation_settings_are_checked(key, value):
    from omegaconf import OmegaConf

    from ragft import validation
    from ragft.config import RunConfig
    from ragft.errors import ConfigError

    cfg = OmegaConf.merge(OmegaConf.structured(RunConfig), {"data": {key: value}})
    with pytest.raises(ConfigError, match=f"data.{key}"):
        validation.validate(cfg)
