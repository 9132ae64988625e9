"""Hyperparameter search: Optuna's ask-and-tell behind a thin Hydra sweeper.

`hydra/sweeper=optuna` (experiment `search-lora`) replaces Hydra's grid with an Optuna study:

- the search space is Hydra's own sweep syntax, from `hydra.sweeper.params` and the command
  line: `choice(4, 8, 16)` or `4,8,16` (categorical), `range(2, 7)` (integers 2..6),
  `interval(1e-4, 1e-2)` (floats; `tag(log, interval(...))` samples on a log scale,
  `tag(int, interval(1, 9))` integers);
- every trial is one cell, launched through the configured Hydra launcher (basic, joblib,
  submitit), maximising the score `run.py` returns (the primary metric);
- the study lives in SQLite in the sweep folder, so re-running the same command with the same
  `hydra.sweep.dir` resumes: finished trials are kept, a trial an interruption left running is
  asked again, and only the trials still missing from `n_trials` run;
- the trials score a validation split of the training questions (`data.evaluate_on`); the best
  trial's settings are then trained on all training questions and scored once on the eval
  questions (`hydra.sweeper.evaluate_best`), and `search.json` keeps both scores apart.

hydra-optuna-sweeper was not used: it pins optuna<3 and does not resume (it runs n_trials
more on every start). The Hydra plugin class is `hydra_plugins/ragft_search`; it only wires
this module to Hydra.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("ragft.search")

RECORD = "search.json"
BEST_EVAL_SUBDIR = "best-eval"
INTERRUPTED = "interrupted"  # user attribute of a trial found RUNNING when a search resumed


@dataclass(frozen=True)
class Space:
    """The overrides every trial shares, and the distributions Optuna samples."""

    fixed: tuple[str, ...]
    distributions: dict[str, Any]


def search_space(params: dict[str, str], arguments: Sequence[str]) -> Space:
    """Parse `hydra.sweeper.params` plus the command line; a command-line key replaces the
    same key of the params. Sweep values become distributions, plain values stay fixed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    by_key = {str(k): f"{k}={v}" for k, v in params.items()}
    for a in arguments:
        by_key[a.split("=", 1)[0]] = a
    fixed, dists = [], {}
    for override in OverridesParser.create().parse_overrides(list(by_key.values())):
        if override.is_sweep_override():
            dists[override.get_key_element()] = distribution(
                override.key_or_group, override.value()
            )
        else:
            fixed.append(override.input_line)
    return Space(tuple(fixed), dists)


def distribution(key: str, sweep: Any) -> Any:
    """The Optuna distribution of one Hydra sweep value."""
    import optuna.distributions as d
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    if isinstance(sweep, ChoiceSweep):
        return d.CategoricalDistribution(list(sweep.list))
    if isinstance(sweep, RangeSweep):
        ints = all(isinstance(x, int) for x in (sweep.start, sweep.stop, sweep.step))
        if ints and sweep.step > 0 and sweep.stop > sweep.start:
            return d.IntDistribution(int(sweep.start), int(sweep.stop) - 1, step=int(sweep.step))
        return d.CategoricalDistribution(_range_values(sweep))
    if isinstance(sweep, IntervalSweep):
        log_scale = "log" in sweep.tags
        if "int" in sweep.tags:
            return d.IntDistribution(int(sweep.start), int(sweep.end), log=log_scale)
        return d.FloatDistribution(float(sweep.start), float(sweep.end), log=log_scale)
    raise ValueError(f"hydra.sweeper.params.{key}: {sweep} is not a choice, range or interval")


def _range_values(sweep: Any) -> list[float]:
    """Hydra's own values of a range, floats rounded to 10 digits (range(0.1, 0.5, 0.1) is
    0.1, 0.2, 0.3, 0.4, not 0.30000000000000004)."""
    return [round(x, 10) if isinstance(x, float) else x for x in sweep.range()]


def overrides_of(params: dict[str, Any]) -> list[str]:
    """Hydra overrides that set a trial's sampled values (floats in full precision, None as
    null, a string that is not a plain word quoted)."""
    return [f"{k}={_value_text(v)}" for k, v in params.items()]


def _value_text(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str) and not re.fullmatch(r"[\w./:+-]+", v):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(v)


def open_study(sweep_dir: Path, name: str, storage: str | None, direction: str, seed: int):
    """The study of this sweep, created or loaded; trials an interruption left RUNNING are
    marked failed ("interrupted"), their half-written folders moved aside (`.interrupted-*`,
    so the report sees no missing cell), and their settings queued to be asked again first.

    One sweeper per study: a second one started on the same storage while the first runs
    would take the first one's running trials for interrupted ones.
    """
    import optuna
    from optuna.trial import TrialState

    sweep_dir.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    store = optuna.storages.get_storage(url)  # its public API marks interrupted trials
    study = optuna.create_study(
        study_name=name,
        storage=store,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        for folder in sweep_dir.glob(f"{trial.number}_*"):  # half-written: not a cell
            folder.rename(sweep_dir / f".interrupted-{folder.name}")
        store.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        store.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        log.info("search: trial %d was interrupted; asking its settings again", trial.number)
    # a resumed study's sampler continues from another seed: the same seed would propose the
    # first trials' settings again
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def n_finished(study) -> int:
    """Trials that count towards n_trials: complete, pruned or failed, not interrupted."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(
        1
        for t in study.get_trials(deepcopy=False, states=done)
        if not t.user_attrs.get(INTERRUPTED)
    )


# (overrides of each job, first job number) -> each job's returned score, None when it failed
Launch = Callable[[list[list[str]], int], list[float | None]]


def run_trials(study, space: Space, n_trials: int, n_jobs: int, launch: Launch) -> int:
    """Ask, launch and tell until `n_trials` trials have finished; return how many ran now."""
    from optuna.trial import TrialState

    ran = 0
    while (missing := n_trials - n_finished(study)) > 0:
        batch = [study.ask(space.distributions) for _ in range(min(max(1, n_jobs), missing))]
        for group in _consecutive(batch):  # a job's folder number is its trial's number
            jobs = [[*space.fixed, *overrides_of(t.params)] for t in group]
            for trial, score in zip(group, launch(jobs, group[0].number), strict=True):
                if score is None:
                    study.tell(trial, state=TrialState.FAIL)
                else:
                    study.tell(trial, float(score))
        ran += len(batch)
    return ran


def _consecutive(trials: list) -> list[list]:
    """The trials in runs of consecutive numbers (Hydra numbers a launch's jobs from one)."""
    groups: list[list] = []
    for t in trials:
        if groups and t.number == groups[-1][-1].number + 1:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def evaluate_best(study, space: Space, launch: Launch, split_key: str) -> dict[str, Any] | None:
    """Train the best trial's settings on all training questions and score them once on the
    eval questions; None when no trial completed."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    job = [
        *space.fixed,
        *overrides_of(best.params),
        f"{split_key}=eval",
        f"hydra.sweep.subdir={BEST_EVAL_SUBDIR}",
    ]
    (score,) = launch([job], len(study.trials))
    return {
        "trial": best.number,
        "params": best.params,
        "validation_score": best.value,
        "eval_score": score,
        "folder": BEST_EVAL_SUBDIR,
    }


def record(sweep_dir: Path, study, n_trials: int, best: dict[str, Any] | None) -> Path:
    """search.json: every trial (state, settings, validation score) and the best trial's
    validation and eval scores, kept apart."""
    from ragft.files import atomic_write_text

    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "params": t.params,
            "value": t.value,
            "interrupted": bool(t.user_attrs.get(INTERRUPTED)),
        }
        for t in study.get_trials(deepcopy=False)
    ]
    doc = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "n_trials": n_trials,
        "trials": trials,
        "best": best,
    }
    path = sweep_dir / RECORD
    atomic_write_text(path, json.dumps(doc, indent=1, default=str))
    return path


def summary_line(best: dict[str, Any] | None, metric: str = "score") -> str:
    """One line for the end of the search."""
    if best is None:
        return "search: no trial completed, so there is no best trial to evaluate"
    settings = ", ".join(overrides_of(best["params"]))
    val, ev = best["validation_score"], best["eval_score"]
    ev_text = "failed" if ev is None else f"{ev:.4g}"
    return (
        f"search: best trial {best['trial']} ({settings}): validation {metric} {val:.4g}; "
        f"eval {metric} {ev_text} (trained on all training questions, scored once)"
    )
