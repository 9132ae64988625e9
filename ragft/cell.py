"""A cell's bookkeeping: where it writes, what identifies its result, how it ends.

- `Place`: the cell's output folder, its name (the overrides that make it different) and
  its W&B group, from Hydra's runtime config.
- `identity`: what decides the cell's result (the config slices that apply to its approach
  and the data's content), the key of the finished-cell cache.
- `finish`: the one way every cell ends, fresh or replayed: the adapter copied into the
  cell's folder, results.json + predictions.jsonl written, W&B logged, a summary printed.
- `replay`: a cell whose exact computation already ran, ended from the cache entry.
- `record_failure`: a sweep cell that raised: results.json says so, the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ragft import provenance, runtime, tracking, wandb_runs
from ragft.cache import Cache
from ragft.config import RunConfig, cell_identity
from ragft.data import fingerprint
from ragft.records import CellResult, Cost, LoadedModel
from ragft.types import Dataset

log = logging.getLogger("ragft")
CELL_FORMAT = 2  # bump when a change makes finished cells stale (2: first-line stop, budget)


@dataclass(frozen=True)
class Place:
    """Where a cell writes and what it is called."""

    out_dir: Path
    name: str  # the override string that makes this cell different (its W&B run name)
    group: str  # W&B group: logger.group, else "<experiment>-<date>-<time>", else "single"
    in_sweep: bool
    # {group: option} where the chosen option's file name is not the `name` it sets: a
    # user's own option (`--config-dir`) that builds on a shipped one keeps its own label
    labels: dict[str, str] = dataclasses.field(default_factory=dict)


LABELLED = ("model", "data", "quant", "retriever", "prompt", "lora", "trainer", "judge")


def labels(cfg: DictConfig, choices: Any) -> dict[str, str]:
    """The config groups whose chosen option (Hydra's runtime choice) differs from the
    `name` its YAML sets, e.g. {"retriever": "my-dense"} for a my-dense.yaml on dense."""
    out = {}
    for group in LABELLED:
        choice = (choices or {}).get(group)
        slot = "metrics.judge" if group == "judge" else group
        name = OmegaConf.select(cfg, f"{slot}.name", default=None)
        if choice and name is not None and str(choice) != str(name):
            out[group] = str(choice)
    return out


def place(cfg: DictConfig, hc: Any) -> Place:
    """The cell's Place from its config and Hydra's runtime config `hc`."""
    in_sweep = hc.mode == RunMode.MULTIRUN
    if OmegaConf.select(cfg, "logger.group"):
        group = str(cfg.logger.group)
    else:
        experiment = (getattr(hc.runtime, "choices", None) or {}).get("experiment")
        group = wandb_runs.sweep_group(hc.sweep.dir, experiment) if in_sweep else "single"
    name = hc.job.override_dirname or "default"
    own = labels(cfg, getattr(hc.runtime, "choices", None))
    return Place(Path(hc.runtime.output_dir), name, group, in_sweep, own)


def identity(run: RunConfig, dataset: Dataset) -> dict[str, Any]:
    """What decides the cell's result: the finished-cell cache's key parts, `auto` inference
    dtype as this machine resolves it (bf16 or float32 answers differ)."""
    config = cell_identity(run)
    if "inference_dtype" in config["model"]:  # a local model (a server's dtype is its own)
        config["model"]["inference_dtype"] = runtime.resolved_inference_dtype(
            run.model.inference_dtype
        )
    return {
        "config": config,
        "data": fingerprint(dataset, with_train=run.approach.trains),
        "format": CELL_FORMAT,
    }


def resolved(cfg: DictConfig, where: Place | None = None) -> dict[str, Any]:
    """The config with every interpolation resolved (the failing one left as written), plus
    `labels` (the user's own option names, `Place.labels`) when there are any."""
    try:
        out: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    except Exception:  # noqa: BLE001 - the config itself may be what failed
        out = OmegaConf.to_container(cfg, resolve=False)  # type: ignore[assignment]
    if where is not None and where.labels:
        out["labels"] = dict(where.labels)
    return out


def tracker(run: RunConfig, where: Place, config: dict, tags: list[str], active: bool = True):
    """The cell's Tracker (files + W&B run); `active=False` in training ranks other than 0."""
    return tracking.Tracker(
        where.out_dir,
        run.logger,
        config,
        job_type=run.approach.name,
        name=where.name,
        group=where.group,
        tags=tags,
        active=active,
        in_sweep=where.in_sweep,
    )


def tags(run: RunConfig, own: dict[str, str] | None = None) -> list[str]:
    """W&B tags: each group's option, by the user's own label where it has one."""
    own = own or {}
    retriever = own.get("retriever", run.retriever.name) if run.approach.retrieves else "none"
    return [
        f"model:{own.get('model', run.model.name)}",
        f"quant:{own.get('quant', run.quant.name)}",
        f"retriever:{retriever}",
        f"lora:{own.get('lora', run.lora.name)}" if run.approach.trains else "untrained",
    ]


def result(
    run: RunConfig,
    where: Place,
    config: dict[str, Any],
    dataset: Dataset,
    scores: dict[str, float],
    by_phrasing: dict[str, dict[str, float]],
    cost: Cost,
    loaded: LoadedModel,
    trained: Any,
    evaluation: dict[str, Any] | None = None,
) -> CellResult:
    """The record of a cell that ran (`trained`: the training stage's output, or None)."""
    return CellResult(
        status="ok",
        name=where.name,
        approach=run.approach.name,
        config=config,
        group=where.group,
        scores=scores,
        scores_by_phrasing=by_phrasing,
        evaluation=evaluation or {},
        primary_metric=run.metrics.primary,
        n_eval=len(dataset.eval),
        n_train=len(dataset.train),
        cost=cost,
        adapter_entry=str(trained.entry) if trained is not None else None,
        model=loaded.info,
        versions=provenance.versions(),
        git_sha=provenance.git_sha(),
    )


def finish(
    tracker: tracking.Tracker,
    run: RunConfig,
    result: CellResult,
    rows: list[dict[str, Any]],
    control: list[dict[str, Any]] | None = None,
) -> float:
    """End a cell: its adapter, results.json, predictions.jsonl (and control.jsonl), W&B, the
    printed summary.

    Returns the primary score (what Hydra's sweepers optimise).
    """
    adapter_entry = Path(result.adapter_entry) if result.adapter_entry else None
    if adapter_entry is not None and adapter_entry.is_dir():
        train = result.cost.train  # a reused adapter is used (W&B lineage), not logged again
        reused = result.reused_cell is not None or bool(train and train.train_cache_hit)
        adapter = tracker.save_adapter(
            adapter_entry, full_model=run.lora.name == "none", reused=reused
        )
        result = dataclasses.replace(result, adapter=str(adapter))
    tracker.record(result, rows, control)
    if result.reused_cell:
        headline = f"{run.approach.name} on {run.data.name} (reused: {result.reused_cell})"
    else:
        headline = (
            f"{run.approach.name} on {run.data.name} ({result.n_eval} questions, "
            f"model {run.model.name}) -> {tracker.out_dir}"
        )
    tracking.print_summary(
        f"\n{headline}\n" + tracking.score_table([(run.approach.name, result.scores)])
    )
    return float(result.scores.get(run.metrics.primary, 0.0))


def keep(cache: Cache, parts: dict[str, Any], out_dir: Path) -> None:
    """Store a finished cell's results.json and predictions.jsonl (and control.jsonl) as its
    cache entry."""

    def copy(entry: Path) -> None:
        for name in ("results.json", "predictions.jsonl", "control.jsonl"):
            if name != "control.jsonl" or (out_dir / name).is_file():
                shutil.copy2(out_dir / name, entry / name)

    cache.get_or_build("cell", parts, copy)


def replay(entry: Path, cfg: DictConfig, run: RunConfig, where: Place, elapsed: float) -> float:
    """A cell whose exact computation already ran: its cached results, as this cell's."""
    cached = CellResult.from_json(json.loads((entry / "results.json").read_text()))
    rows = _jsonl(entry / "predictions.jsonl")
    control = _jsonl(entry / "control.jsonl") if (entry / "control.jsonl").is_file() else None
    config = resolved(cfg, where)
    result = dataclasses.replace(
        cached,
        name=where.name,
        group=where.group,
        config=config,
        reused_cell=str(entry),
        cost=dataclasses.replace(cached.cost, cell_cache_hit=True, replay_seconds=elapsed),
        versions=provenance.versions(),
        git_sha=provenance.git_sha(),
    )
    log.info("cell: already computed; reusing %s", entry)
    with tracker(run, where, config, ["reused"]) as t:
        return finish(t, run, result, rows, control)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def record_failure(cfg: DictConfig, where: Place, error: BaseException) -> None:
    """A failed sweep cell: results.json says so (the report lists it, the sweep exits 1)."""
    result = CellResult(
        status="failed",
        name=where.name,
        approach=OmegaConf.select(cfg, "approach.name"),
        config=resolved(cfg, where),
        error=f"{type(error).__name__}: {error}",
    )
    tracking.write_results(where.out_dir, result)
