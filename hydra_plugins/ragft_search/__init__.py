"""ragft's Optuna sweeper as a Hydra plugin (`hydra/sweeper=optuna`, ragft/conf/hydra/sweeper/).

Hydra instantiates sweepers only from the `hydra_plugins` package; the search itself is
`ragft.search`. Imports stay inside the methods: Hydra imports every plugin on each start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper

log = logging.getLogger("ragft.search")


class OptunaSweeper(Sweeper):
    """Optuna's ask-and-tell over Hydra's launcher; a study in SQLite that resumes."""

    def __init__(
        self,
        n_trials: int = 20,
        direction: str = "maximize",
        seed: int = 0,
        study_name: str | None = None,
        storage: str | None = None,
        n_jobs: int = 1,
        evaluate_best: bool = True,
        split_key: str = "data.evaluate_on",
        params: dict[str, str] | None = None,
    ) -> None:
        self.n_trials, self.direction, self.seed = int(n_trials), direction, int(seed)
        self.study_name, self.storage, self.n_jobs = study_name, storage, int(n_jobs)
        self.evaluate_best, self.split_key = bool(evaluate_best), split_key
        self.params = dict(params or {})
        self.config = self.launcher = self.hydra_context = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from omegaconf import OmegaConf

        from ragft import search

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        space = search.search_space(self.params, arguments)
        if not space.distributions:
            raise ValueError(
                "hydra/sweeper=optuna has nothing to search: give "
                "hydra.sweeper.params (e.g. lora.r: choice(4, 8, 16))"
            )
        experiment = OmegaConf.select(self.config, "hydra.runtime.choices.experiment")
        name = self.study_name or experiment or "search"
        study = search.open_study(sweep_dir, name, self.storage, self.direction, self.seed)
        before = search.n_finished(study)
        if before:
            log.info(
                "search: resuming study %r with %d of %d trials finished",
                name,
                before,
                self.n_trials,
            )
        search.run_trials(study, space, self.n_trials, self.n_jobs, self._launch)
        best = None
        if self.evaluate_best:
            best = search.evaluate_best(study, space, self._launch, self.split_key)
        search.record(sweep_dir, study, self.n_trials, best)
        metric = OmegaConf.select(self.config, "metrics.primary", default="score")
        print(search.summary_line(best, metric), flush=True)
        return best

    def _launch(self, jobs: list[list[str]], first: int) -> list[float | None]:
        from hydra.core.utils import JobStatus

        self.validate_batch_is_legal(jobs)
        results = self.launcher.launch(jobs, initial_job_idx=first)
        return [r.return_value if r.status == JobStatus.COMPLETED else None for r in results]
