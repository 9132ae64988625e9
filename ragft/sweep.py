"""Sweep-level behaviour, through Hydra's own callback API (registered in conf/config.yaml).

- on_multirun_start: count the cells, so each says "cell i of n" when it starts;
- on_job_start: that progress line;
- on_multirun_end: the report (table + plots), a W&B summary run with the comparison, and a
  non-zero exit when any cell failed or left no result (failed cells do not stop the sweep:
  run.py writes them as status "failed" and returns).

The cell count is written to the sweep folder, so cells launched in other processes
(submitit, joblib) can read it too.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("ragft.sweep")
STATE = ".ragft_sweep.json"


def count_cells(task_overrides: list[str], sweeper_params: dict[str, Any]) -> int:
    """How many cells a basic sweep launches: the product of each swept key's choices.

    Command-line overrides replace the experiment's `hydra.sweeper.params` for the same key.
    """
    by_key: dict[str, str] = {k: f"{k}={v}" for k, v in sweeper_params.items()}
    for o in task_overrides:
        by_key[o.split("=", 1)[0].lstrip("+~")] = o
    parsed = OverridesParser.create().parse_overrides(list(by_key.values()))
    sizes = [len(list(p.sweep_string_iterator())) if p.is_sweep_override() else 1 for p in parsed]
    return math.prod(sizes)


def _state(sweep_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((sweep_dir / STATE).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def sweep_total(sweep_dir: Path) -> int | None:
    try:
        return int(_state(sweep_dir)["cells"])
    except (KeyError, ValueError, TypeError):  # TypeError: a sweep it could not count
        return None


def check_output_dir(key: str, folder: str) -> None:
    """Stop with one clear message, before any work, when the output folder is unwritable."""
    from ragft.files import unwritable_reason

    reason = unwritable_reason(folder)
    if reason:
        print(
            f"ragft: error: {key}={folder}: cannot write the outputs there ({reason}); "
            f"choose another folder with {key}=...",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2)


class SweepCallback(Callback):
    """Progress, report and exit status of a `run.py -m` sweep."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_output_dir("hydra.run.dir", str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_output_dir("hydra.sweep.dir", str(config.hydra.sweep.dir))
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
        trials = config.hydra.sweeper.get("n_trials")  # a search (hydra/sweeper=optuna)
        try:
            total = None if trials else count_cells(list(config.hydra.overrides.task), params)
        except Exception:  # noqa: BLE001 - a count is a nicety; never block a sweep on it
            total = None
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / STATE).write_text(json.dumps({"cells": total, "trials": trials}))
        if trials:
            log.info("search of %d trials -> %s", trials, sweep_dir)
        elif total:
            log.info("sweep of %d cells -> %s", total, sweep_dir)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from ragft.search import BEST_EVAL_SUBDIR

        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return
        what = hc.job.override_dirname or "default"
        if _state(Path(hc.sweep.dir)).get("trials"):  # a search: trial numbers, then the best
            best = hc.sweep.subdir == BEST_EVAL_SUBDIR
            head = "the best trial, trained again and scored on eval" if best else "trial"
            print(f"\n=== {head}{'' if best else f' {hc.job.num}'}: {what}", flush=True)
            return
        total = sweep_total(Path(hc.sweep.dir))
        of = f" of {total}" if total else ""
        print(f"\n=== cell {hc.job.num + 1}{of}: {what}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ragft import report as sweep_report
        from ragft import wandb_runs
        from ragft.errors import RagftError

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            rep = sweep_report.build_report(sweep_dir)
        except RagftError as e:
            print(f"report: error: {e}", flush=True)
            raise SystemExit(1) from e
        print(f"\n{rep.markdown_table}\n", flush=True)
        if rep.decision:
            print(f"decision: {rep.decision.replace('**', '')}\n", flush=True)
        print(f"report: {rep.markdown_path}\ntable:  {rep.csv_path}", flush=True)
        for plot in rep.plots:
            print(f"plot:   {plot}", flush=True)
        logger_cfg = config.get("logger")
        if logger_cfg is not None and logger_cfg.get("name") == "wandb":
            experiment = OmegaConf.select(config, "hydra.runtime.choices.experiment")
            wandb_runs.log_sweep_summary(
                sweep_dir, rep, OmegaConf.to_object(logger_cfg), experiment
            )
        bad = rep.n_failed + rep.n_missing
        if bad:
            print(
                f"sweep: {bad} of {rep.n_failed + rep.n_missing + rep.n_ok} cells failed or "
                "left no result; see the report",
                flush=True,
            )
            raise SystemExit(1)
