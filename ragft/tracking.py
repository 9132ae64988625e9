"""Side effects of a cell, in one place: the plain files in its output folder and its W&B run.

Files are written atomically (temporary name, then rename), so a reader never sees a partial
`results.json` or `predictions.jsonl`. The W&B run is always finished, also when the cell
fails, so cells in one process never log into each other. No secret is ever written: the
config holds none, and the environment is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragft.config import LoggerConfig
from ragft.files import atomic_write_json, atomic_write_jsonl, atomic_write_text
from ragft.metrics import bootstrap_ci, metric_sort_key
from ragft.records import CellResult
from ragft.types import Prediction
from ragft.wandb_runs import cell_run_id, log_adapter, predictions_table, wandb_mode

log = logging.getLogger(__name__)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, so W&B can group and filter on every key."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(map(str, v))
        else:
            out[key] = v
    return out


def write_results(
    out_dir: Path, result: CellResult, predictions: list[dict[str, Any]] | None = None
) -> None:
    """The one place results.json is written (after predictions.jsonl, when there are any)."""
    if predictions is not None:
        atomic_write_jsonl(out_dir / "predictions.jsonl", predictions)
    atomic_write_json(out_dir / "results.json", result.to_json())


@dataclass
class Tracker:
    """One cell's outputs. Use as a context manager; call `record` once on success."""

    out_dir: Path
    logger: LoggerConfig
    config: dict[str, Any]
    job_type: str
    name: str
    group: str
    tags: list[str] = field(default_factory=list)
    active: bool = True  # False in a training rank other than 0: it writes and logs nothing
    in_sweep: bool = False  # a cell of a Hydra sweep (its own W&B run even under an agent)
    run: Any = None

    def __enter__(self) -> Tracker:
        if not self.active:
            return self
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out_dir / "config.json", json.dumps(self.config, indent=2) + "\n")
        if self.logger.name == "wandb":
            import wandb

            mode = wandb_mode(self.logger)  # once: it may read the netrc file
            self.run = wandb.init(
                project=self.logger.project,
                entity=self.logger.entity,
                group=self.group,
                job_type=self.job_type,
                name=self.name,
                id=cell_run_id(self.out_dir, self.in_sweep),  # a re-run updates the cell's run
                resume="allow",
                tags=[*self.tags, *self.logger.tags],
                config=flatten(self.config),
                dir=str(self.out_dir),
                mode=mode,
                reinit="finish_previous",
                settings=wandb.Settings(quiet=True),  # no per-cell summary printout
            )
            r = self.run
            atomic_write_json(
                self.out_dir / "wandb_run.json",
                {
                    "id": r.id,
                    "entity": r.entity,
                    "project": r.project,
                    "group": r.group,
                    "job_type": r.job_type,
                    "name": r.name,
                    "mode": mode,
                    "dir": r.dir,
                    "url": r.url if mode == "online" else None,
                },
            )
        return self

    def record(
        self,
        result: CellResult,
        predictions: list[dict[str, Any]],
        control: list[dict[str, Any]] | None = None,
    ) -> None:
        """Write results.json (the one place it is written), predictions.jsonl and, when the
        control set ran, control.jsonl; log them.

        The rows first: a results.json that exists always has its predictions.
        """
        if not self.active:
            return
        if control:
            atomic_write_jsonl(self.out_dir / "control.jsonl", control)
        write_results(self.out_dir, result, predictions)
        if self.run is None:
            return
        # one key per score, in the summary (`scores.f1`, its 95% CI `scores.f1_ci_low` and
        # `scores.f1_ci_high`): what W&B's run table and parallel coordinates read; no
        # one-point `scores/f1` chart beside it
        scores = {**result.scores, **score_intervals(result.scores, predictions)}
        summary = {"scores": scores, "cost": result.cost.to_json(), "evaluation": result.evaluation}
        self.run.summary.update(flatten(summary))
        self.run.log({"predictions": predictions_table(predictions)})

    def lightning_loggers(self) -> list | None:
        """Training curves go to a CSV in the cell's folder and, when on, to this W&B run."""
        if not self.active:
            return None
        from pytorch_lightning.loggers import CSVLogger, WandbLogger

        loggers: list = [CSVLogger(self.out_dir, name="train", version="")]
        if self.run is not None:
            loggers.append(WandbLogger(experiment=self.run))
        return loggers

    def save_adapter(self, entry: Path, full_model: bool = False, reused: bool = False) -> Path:
        """Put the trained adapter (or full weights) in the cell's `adapter/` folder and in W&B.

        Files are hard-linked from the cache when the file system allows (no second copy of
        the weights), else copied. `reused`: the adapter came from the cache (another cell,
        e.g. the hybrid cell's finetune twin, trained it), so the W&B run uses the artifact
        rather than logging it (`wandb_runs.log_adapter`).
        """
        dest = self.out_dir / "adapter"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(entry, dest, copy_function=_link_or_copy)
        (dest / "MANIFEST.json").unlink(missing_ok=True)
        if self.run is not None:
            log_adapter(self.run, entry, dest, full_model=full_model, reused=reused)
        return dest

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if exc_type is None else 1)
            self.run = None


def prediction_rows(
    predictions: Sequence[Prediction],
    raw: Sequence[str],
    metrics: Sequence[dict[str, float]],
    extra: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """predictions.jsonl's rows: what was asked, answered, retrieved and scored, per question
    (`extra`: further fields per question, e.g. "answerable", "abstained", "judge")."""
    extra = extra if extra is not None else [{}] * len(predictions)
    return [
        {
            "id": p.example.id,
            "question": p.example.question,
            "golds": list(p.example.answers),
            "prediction": p.answer,
            "raw_output": text,
            "prompt": p.prompt,
            "phrasing": p.example.phrasing,
            "gold_doc_ids": list(p.example.gold_doc_ids),
            "passages": [
                {
                    "rank": q.rank,
                    "doc_id": q.doc_id,
                    "chunk_id": q.chunk_id,
                    "score": round(float(q.score), 6),
                    "text": q.text,
                }
                for q in p.passages
            ],
            "cut_passages": p.cut_passages,
            "metrics": m,
            **more,
        }
        for p, text, m, more in zip(predictions, raw, metrics, extra, strict=True)
    ]


def score_intervals(
    scores: Mapping[str, float], predictions: Sequence[Mapping[str, Any]]
) -> dict[str, float]:
    """`<score>_ci_low` and `<score>_ci_high`: the bootstrap 95% CI of each score that has
    per-question values in the rows (the report's per-cell interval, `Cell.ci`)."""
    out: dict[str, float] = {}
    for name in scores:
        values = [
            float(row["metrics"][name])
            for row in predictions
            if row.get("metrics", {}).get(name) is not None
        ]
        if values:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = bootstrap_ci(values)
    return out


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def score_table(rows: list[tuple[str, dict[str, float]]]) -> str:
    """A short fixed-width table: one row per label, scores as percentages."""
    names = sorted({k for _, s in rows for k in s}, key=metric_sort_key)
    width = max(len(label) for label, _ in rows)
    head = f"{'':{width}}  " + "  ".join(f"{n:>11}" for n in names)
    lines = [head]
    for label, scores in rows:
        cells = "  ".join(
            f"{100 * scores[n]:>11.1f}" if n in scores else f"{'-':>11}" for n in names
        )
        lines.append(f"{label:{width}}  {cells}")
    return "\n".join(lines)


def print_summary(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
